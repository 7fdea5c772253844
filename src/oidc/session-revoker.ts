import type { AdapterFactory } from './adapters/adapter-factory.js';
import { grantableModels } from './adapters/postgres-adapter.js';
import type { OidcModelRepository } from './adapters/oidc-model-repository.js';

export interface RevokeOptions {
  /** A session to keep, with the grants it holds ("sign out everywhere else"). */
  keepSessionId?: string;
}

/**
 * Ends an account's sessions and revokes its grants with every token issued under them (refresh
 * and access tokens in whichever store holds them), as oidc-provider's own revocation does.
 */
export function createSessionRevoker({ repository, adapter }: { repository: OidcModelRepository; adapter: AdapterFactory }) {
  async function revokeGrant(grantId: string): Promise<void> {
    await Promise.all([...grantableModels].map((model) => adapter(model).revokeByGrantId(grantId)));
    await adapter('Grant').destroy(grantId);
  }

  return {
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
      return { sessions: ended.length, grants: grants.length };
    },
  };
}

export type SessionRevoker = ReturnType<typeof createSessionRevoker>;
