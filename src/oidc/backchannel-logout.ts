import type Provider from 'oidc-provider';
import type { AuditEventInput } from '../audit/audit-chain.js';
import type { Logger } from '../infra/logger.js';

/** An ended session as stored: oidc-provider's Session payload. */
export interface EndedSession {
  accountId: string;
  /** clientId → the authorization the session holds for it (`sid` is per client). */
  authorizations: Record<string, { sid?: string }>;
}

export interface BackchannelLogoutDeps {
  audit: { record(event: AuditEventInput): Promise<unknown> };
  logger: Logger;
}

export const backchannelAudit = { sent: 'logout.backchannel_sent', failed: 'logout.backchannel_failed' } as const;

/**
 * Sends OIDC Back-Channel Logout 1.0 logout tokens when Portcullis itself ends sessions
 * (password reset, sign out everywhere, admin). The token is built and POSTed by oidc-provider's
 * own `Client#backchannelLogout(sub, sid)`, exactly as its end_session action does.
 *
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/lib/actions/end_session.js (confirm → backchannelLogout)
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
export function createBackchannelLogout({ audit, logger }: BackchannelLogoutDeps) {
  let currentProvider: (() => Provider | undefined) | undefined;

  /** Audits without ever failing the caller: a lost audit row must not undo a revocation. */
  async function record(event: AuditEventInput): Promise<void> {
    await audit.record(event).catch((error: unknown) => logger.error({ err: error, type: event.type }, 'audit append failed'));
  }

  async function notifyOne(provider: Provider, accountId: string, clientId: string, sid: string | undefined): Promise<void> {
    const client = await provider.Client.find(clientId).catch(() => undefined);
    const uri = (client as { backchannelLogoutUri?: string } | undefined)?.backchannelLogoutUri;
    if (!client || !uri) return;
    try {
      await (client as unknown as { backchannelLogout(sub: string, sid?: string): Promise<void> }).backchannelLogout(accountId, sid);
      await record({ type: backchannelAudit.sent, actor: 'system', accountId, clientId, details: { sid: sid ?? null } });
    } catch (error) {
      logger.warn({ err: error, clientId }, 'back-channel logout failed');
      await record({ type: backchannelAudit.failed, actor: 'system', accountId, clientId, details: { sid: sid ?? null, reason: (error as Error).message } });
    }
  }

  return {
    /** Called once the provider exists (server.ts); rebuilt providers are read through the getter. */
    attach(getProvider: () => Provider | undefined): void {
      currentProvider = getProvider;
    },

    /** Notifies every client of every ended session, in parallel; failures are audited, never thrown. */
    async notify(sessions: EndedSession[]): Promise<void> {
      const provider = currentProvider?.();
      if (!provider) return; // the CLI runs without a provider: nothing to sign logout tokens with
      await Promise.all(sessions.flatMap((session) => Object.entries(session.authorizations ?? {})
        .map(([clientId, { sid }]) => notifyOne(provider, session.accountId, clientId, sid))));
    },

    /** Audit handlers for oidc-provider's own sends (RP-initiated logout); see token-events.ts. */
    onSent: (clientId: string, accountId: string, sid: string | undefined) =>
      record({ type: backchannelAudit.sent, actor: 'system', accountId, clientId, details: { sid: sid ?? null } }),
    onFailed: (clientId: string, accountId: string, sid: string | undefined, error: Error) =>
      record({ type: backchannelAudit.failed, actor: 'system', accountId, clientId, details: { sid: sid ?? null, reason: error.message } }),
  };
}

export type BackchannelLogout = ReturnType<typeof createBackchannelLogout>;
