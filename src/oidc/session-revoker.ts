import type { AdapterFactory } from './adapters/adapter-factory.js';
import { grantableModels } from './adapters/postgres-adapter.js';
import type { OidcModelRepository } from './adapters/oidc-model-repository.js';
import type { BackchannelLogout, EndedSession } from './backchannel-logout.js';

export interface RevokeOptions {
  /** A session to keep, with the grants it holds ("sign out everywhere else"). */
  keepSessionId?: string;
}

export interface SessionRevokerDeps {
  repository: OidcModelRepository;
  adapter: AdapterFactory;
  /** Tells clients with a backchannel_logout_uri about each ended session. */
  backchannel?: Pick<BackchannelLogout, 'notify'>;
}

/**
 * Ends an account's sessions and revokes its grants with every token issued under them (refresh
 * and access tokens in whichever store holds them), as oidc-provider's own revocation does; then
 * sends back-channel logout tokens for the ended sessions. A client that cannot be reached does
 * not stop the revocation.
 */
export function createSessionRevoker({ repository, adapter, backchannel }: SessionRevokerDeps) {
  async function revokeGrant(grantId: string): Promise<void> {
    await Promise.all([...grantableModels].map((model) => adapter(model).revokeByGrantId(grantId)));
    await adapter('Grant').destroy(grantId);
  }

  return {
    /**
     * Ends one session and revokes the grants it holds (one per client it signed in to), with
     * their tokens; a missing session is not an error. Answers how many grants were revoked.
     */
    async revokeSession(sessionId: string): Promise<{ grants: number }> {
      const session = await repository.find('Session', sessionId, new Date());
      const authorizations = (session?.payload.authorizations ?? {}) as Record<string, { sid?: string; grantId?: string }>;
      const grantIds = new Set(Object.values(authorizations).map((authorization) => authorization.grantId).filter((grantId): grantId is string => Boolean(grantId)));
      for (const grantId of grantIds) await revokeGrant(grantId);
      await adapter('Session').destroy(sessionId);
      const accountId = session?.payload.accountId;
      if (typeof accountId === 'string') await backchannel?.notify([{ accountId, authorizations }]);
      return { grants: grantIds.size };
    },

    /** Revokes every refresh token of the account; sessions stay (after a password change without "sign out everywhere"). */
    async revokeRefreshTokens(accountId: string): Promise<number> {
      const grants = await repository.listForAccount('Grant', accountId, new Date());
      await Promise.all(grants.map((grant) => adapter('RefreshToken').revokeByGrantId(grant.id)));
      return grants.length;
    },

    async revokeAccount(accountId: string, options: RevokeOptions = {}): Promise<{ sessions: number; grants: number }> {
      const now = new Date();
      const sessions = await repository.listForAccount('Session', accountId, now);
      const kept = sessions.find((session) => session.id === options.keepSessionId);
      const keptGrants = new Set(Object.values((kept?.payload.authorizations ?? {}) as Record<string, { grantId?: string }>)
        .map((authorization) => authorization.grantId).filter(Boolean));
      const grants = (await repository.listForAccount('Grant', accountId, now)).filter((grant) => !keptGrants.has(grant.id));
      for (const grant of grants) await revokeGrant(grant.id);
      const ended = sessions.filter((session) => session.id !== options.keepSessionId);
      await Promise.all(ended.map((session) => adapter('Session').destroy(session.id)));
      await backchannel?.notify(ended.map((session) => ({
        accountId,
        authorizations: (session.payload.authorizations ?? {}) as EndedSession['authorizations'],
      })));
      return { sessions: ended.length, grants: grants.length };
    },
  };
}

export type SessionRevoker = ReturnType<typeof createSessionRevoker>;
