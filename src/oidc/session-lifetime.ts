import type { Middleware } from 'koa';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Logger } from '../infra/logger.js';
import type { Expiry, SessionFacts } from '../sessions/session-service.js';

const { Check } = interactionPolicy;

/** What the provider needs from the session service. */
export interface SessionTracker {
  expiry(session: SessionFacts, clientIdleSeconds?: number): Promise<Expiry>;
  recordAuthorization(session: SessionFacts, seen: { userAgent?: string; ip?: string }): Promise<void>;
}

interface ProviderSession { uid: string; jti: string; accountId?: string; loginTs?: number; transient?: boolean; destroyed?: boolean }

const facts = (session: ProviderSession & { accountId: string }): SessionFacts => ({
  uid: session.uid, jti: session.jti, accountId: session.accountId, loginTs: session.loginTs, transient: session.transient,
});

/**
 * A login-prompt check: a session past its idle timeout or absolute lifetime no longer signs
 * anyone in (NIST SP 800-63B rev 4 §2.2.3), so the login page shows again; `prompt=none` gets
 * login_required. oidc-provider stretches a Session's expiry at every save, so the lifetime is
 * measured here from the sign-in time. The tracker arrives on ctx.state (see trackSessions),
 * because the policy is built with the declarative configuration.
 */
export function sessionLifetimeCheck() {
  return new Check('session_expired', 'the session is idle or past its lifetime', 'login_required', async (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session as unknown as ProviderSession | undefined;
    const tracker = ctx.state.sessionTracker as SessionTracker | undefined;
    if (!tracker || !session?.accountId) return Check.NO_NEED_TO_PROMPT;
    // Just signed in (resuming the login interaction): that is the fresh authentication asked for.
    if (ctx.oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
    const clientIdle = (ctx.oidc.client as { session_idle_ttl?: number } | undefined)?.session_idle_ttl;
    return (await tracker.expiry(facts({ ...session, accountId: session.accountId }), clientIdle)) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  });
}

/**
 * Provider middleware: hands the tracker to the policy check, and after each successful
 * authorization (sign-in or single sign-on) records the session's device, IP and activity —
 * after oidc-provider has saved the Session, so its id is the one the browser now holds.
 */
export function trackSessions(provider: Provider, tracker: SessionTracker, logger: Logger): Middleware {
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    ctx.state.authorizedSession = ctx.oidc.session;
  });
  return async (ctx, next) => {
    ctx.state.sessionTracker = tracker;
    await next();
    const session = ctx.state.authorizedSession as ProviderSession | undefined;
    if (!session?.accountId || session.destroyed) return;
    await tracker.recordAuthorization(facts({ ...session, accountId: session.accountId }), { userAgent: ctx.get('user-agent') || undefined, ip: ctx.state.clientIp })
      .catch((error: unknown) => (ctx.state.log ?? logger).error({ err: error }, 'recording session activity failed'));
  };
}
