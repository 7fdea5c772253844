import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditEventInput } from '../audit/audit-chain.js';
import type { Logger } from '../infra/logger.js';
import type { BackchannelLogout } from './backchannel-logout.js';

export interface TokenEventDeps {
  audit: { record(event: AuditEventInput): Promise<unknown> };
  backchannel: Pick<BackchannelLogout, 'onSent' | 'onFailed'>;
  logger: Logger;
}

export const tokenAudit = { refreshReuse: 'token.refresh_reuse_detected' } as const;

/**
 * The error_detail of oidc-provider's InvalidGrant when a rotated (consumed) refresh token comes
 * back; by then it has already revoked the whole grant (RFC 9700 §4.14.2).
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/lib/actions/grants/refresh_token.js
 */
const reuseDetail = 'refresh token already used';

/**
 * Audits what oidc-provider does on its own: refresh token reuse (grant revoked) and the logout
 * tokens it sends on RP-initiated logout. Call once per provider instance, as it is built.
 */
export function subscribeTokenEvents(provider: Provider, { audit, backchannel, logger }: TokenEventDeps): void {
  const record = (event: AuditEventInput) =>
    audit.record(event).catch((error: unknown) => logger.error({ err: error, type: event.type }, 'audit append failed'));

  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: { error_detail?: string }) => {
    if (error.error_detail !== reuseDetail) return;
    const token = ctx.oidc.entities.RefreshToken;
    void record({
      type: tokenAudit.refreshReuse, actor: 'system', accountId: token?.accountId, clientId: ctx.oidc.client?.clientId,
      ip: ctx.state?.clientIp as string | undefined, userAgent: ctx.get('user-agent') || undefined,
      details: { grantId: token?.grantId ?? null, grantRevoked: true },
    });
  });

  // RP-initiated logout ends the session inside oidc-provider; record it like the sessions we end ourselves.
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session as { accountId?: string; uid?: string } | undefined;
    if (!session?.accountId) return;
    void record({
      type: 'session.ended', actor: `account:${session.accountId}`, accountId: session.accountId, clientId: ctx.oidc.client?.clientId,
      ip: ctx.state?.clientIp as string | undefined, userAgent: ctx.get('user-agent') || undefined, details: { via: 'logout' },
    });
  });

  provider.on('backchannel.success', (_ctx: KoaContextWithOIDC, client: { clientId: string }, accountId: string, sid?: string) => {
    void backchannel.onSent(client.clientId, accountId, sid);
  });
  provider.on('backchannel.error', (_ctx: KoaContextWithOIDC, error: Error, client: { clientId: string }, accountId: string, sid?: string) => {
    logger.warn({ err: error, clientId: client.clientId }, 'back-channel logout failed');
    void backchannel.onFailed(client.clientId, accountId, sid, error);
  });
}
