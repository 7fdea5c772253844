import { NotFoundError } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { OidcModelRepository } from '../oidc/adapters/oidc-model-repository.js';
import type { SessionRevoker } from '../oidc/session-revoker.js';
import type { Repositories } from '../repositories.js';
import { describeUserAgent } from './user-agent.js';

/** The parts of an oidc-provider Session the lifetime rules read. */
export interface SessionFacts {
  uid: string;
  /** The Session's id (its cookie value). */
  jti: string;
  accountId: string;
  /** When the person last proved who they are, epoch seconds. */
  loginTs?: number;
  /** True without "Keep me signed in" (oidc-provider leaves it unset for a remembered session). */
  transient?: boolean;
}

export interface SessionSettings {
  /** NIST SP 800-63B rev 4 §2.2.3 (AAL2): at most 1 hour of inactivity; 0 turns it off. */
  idleTimeoutSeconds: number;
  /** Absolute lifetime of a session without "Keep me signed in" (ttl.session; AAL2: at most 24 h). */
  sessionTtlSeconds: number;
  /** Absolute lifetime with "Keep me signed in". */
  rememberMeDays: number;
}

/** Who ends a session, for the audit trail. */
export interface SessionActor { actor: string; ip?: string; userAgent?: string }

export interface SessionView {
  uid: string;
  current: boolean;
  browser: string | null;
  os: string | null;
  ip: string | null;
  createdAt: Date | null;
  lastActiveAt: Date | null;
  /** Past its idle timeout or lifetime: using it means signing in again. */
  expired: boolean;
}

export type Expiry = 'idle' | 'lifetime' | false;

/** Last-active writes are throttled to one a minute per session. */
const TOUCH_THROTTLE_SECONDS = 60;

/**
 * Sign-in sessions as the person sees them: where and when each is used, the idle timeout and
 * absolute lifetime that end them, and signing them out (which revokes what they issued).
 */
export function createSessionService(deps: {
  db: Database<Repositories>; oidcModels: OidcModelRepository; revoker: SessionRevoker; settings: SessionSettings; now?: () => Date;
}) {
  const { db, oidcModels, revoker, settings } = deps;
  const now = deps.now ?? (() => new Date());

  const lifetimeSeconds = (transient: boolean | undefined) => (transient === true ? settings.sessionTtlSeconds : settings.rememberMeDays * 86_400);

  /**
   * Why a session no longer counts as signed in, or false. Remembered sessions ("Keep me signed
   * in", a choice the person made) have no idle timeout, only their longer lifetime.
   */
  function expiry(session: Pick<SessionFacts, 'loginTs' | 'transient'>, lastActiveAt: Date | undefined, at: Date, clientIdleSeconds?: number): Expiry {
    const nowSeconds = at.getTime() / 1000;
    const loginTs = session.loginTs ?? 0;
    if (nowSeconds - loginTs > lifetimeSeconds(session.transient)) return 'lifetime';
    // A client's own idle limit applies to every session signing in to it, remembered ones included.
    const idleSeconds = clientIdleSeconds ?? (session.transient === true ? settings.idleTimeoutSeconds : 0);
    if (idleSeconds <= 0) return false;
    // A fresh sign-in in the same session counts as activity before its metadata is refreshed.
    const lastActive = Math.max((lastActiveAt?.getTime() ?? 0) / 1000, loginTs);
    return nowSeconds - lastActive > idleSeconds ? 'idle' : false;
  }

  async function liveSessions(accountId: string) {
    return (await oidcModels.listForAccount('Session', accountId, now())).map((row) => ({
      id: row.id, uid: String(row.payload.uid ?? ''), loginTs: row.payload.loginTs as number | undefined, transient: row.payload.transient as boolean | undefined,
    }));
  }

  return {
    /** Whether the session is past its idle timeout or absolute lifetime. */
    async expiry(session: SessionFacts, clientIdleSeconds?: number): Promise<Expiry> {
      const metadata = await db.repos.sessionMetadata.find(session.uid);
      return expiry(session, metadata?.lastActiveAt, now(), clientIdleSeconds);
    },

    /**
     * Records a successful authorization in this session (a sign-in, or single sign-on): device,
     * IP and last activity; the first one for a session audits `session.created`.
     */
    async recordAuthorization(session: SessionFacts, seen: { userAgent?: string; ip?: string }): Promise<void> {
      const at = now();
      const expiresAt = new Date(((session.loginTs ?? at.getTime() / 1000) + lifetimeSeconds(session.transient)) * 1000);
      await db.transaction(async (repos) => {
        const created = await repos.sessionMetadata.upsert({
          sessionUid: session.uid, accountId: session.accountId, sessionId: session.jti, userAgent: seen.userAgent?.slice(0, 512) ?? null,
          ip: seen.ip ?? null, createdAt: at, lastActiveAt: at, expiresAt,
        });
        if (created) {
          await repos.audit.append({
            type: 'session.created', actor: `account:${session.accountId}`, accountId: session.accountId, ip: seen.ip, userAgent: seen.userAgent,
            details: { sessionUid: session.uid, remembered: session.transient !== true },
          });
        }
      });
    },

    /** Marks the session used now (at most one write a minute). */
    touch: (sessionUid: string) => db.repos.sessionMetadata.touch(sessionUid, now(), TOUCH_THROTTLE_SECONDS),

    /** The account's live sessions, the current one first, then the most recently used. */
    async list(accountId: string, currentSessionId?: string): Promise<SessionView[]> {
      const at = now();
      const [live, rows] = await Promise.all([liveSessions(accountId), db.repos.sessionMetadata.listForAccount(accountId)]);
      const byUid = new Map(rows.map((row) => [row.sessionUid, row]));
      // Metadata of sessions that ended some other way (sign-out, password change, expiry).
      const liveUids = new Set(live.map((session) => session.uid));
      await db.repos.sessionMetadata.delete(rows.filter((row) => !liveUids.has(row.sessionUid)).map((row) => row.sessionUid));
      const views = live.map((session): SessionView => {
        const row = byUid.get(session.uid);
        return {
          uid: session.uid, current: session.id === currentSessionId, ...describeUserAgent(row?.userAgent), ip: row?.ip ?? null,
          createdAt: row?.createdAt ?? (session.loginTs ? new Date(session.loginTs * 1000) : null), lastActiveAt: row?.lastActiveAt ?? null,
          expired: expiry(session, row?.lastActiveAt, at) !== false,
        };
      });
      return views.sort((a, b) => Number(b.current) - Number(a.current) || (b.lastActiveAt?.getTime() ?? 0) - (a.lastActiveAt?.getTime() ?? 0));
    },

    /** Signs one of the account's sessions out and revokes the grants and refresh tokens issued under it. */
    async end(accountId: string, sessionUid: string, by: SessionActor): Promise<void> {
      const session = (await liveSessions(accountId)).find((candidate) => candidate.uid === sessionUid);
      if (!session) throw new NotFoundError('session_not_found', 'No such session.');
      const { grants } = await revoker.revokeSession(session.id);
      await db.transaction(async (repos) => {
        await repos.sessionMetadata.delete([sessionUid]);
        await repos.audit.append({ type: 'session.ended', actor: by.actor, accountId, ip: by.ip, userAgent: by.userAgent, details: { sessionUid, grantsRevoked: grants } });
      });
    },

    /**
     * Ends every session of the account but `keepSessionId` (or every one), with their grants and
     * tokens; ending all of them also voids "trust this device" passes. Answers how many ended.
     */
    async endAll(accountId: string, by: SessionActor, keepSessionId?: string): Promise<number> {
      const kept = keepSessionId ? (await liveSessions(accountId)).find((session) => session.id === keepSessionId) : undefined;
      const result = await revoker.revokeAccount(accountId, { keepSessionId });
      await db.transaction(async (repos) => {
        const rows = await repos.sessionMetadata.listForAccount(accountId);
        await repos.sessionMetadata.delete(rows.map((row) => row.sessionUid).filter((uid) => uid !== kept?.uid));
        if (!keepSessionId) await repos.accounts.bumpTrustedDeviceEpoch(accountId);
        await repos.audit.append({
          type: 'sessions.ended_all', actor: by.actor, accountId, ip: by.ip, userAgent: by.userAgent,
          details: { sessions: result.sessions, grantsRevoked: result.grants, keptCurrent: Boolean(keepSessionId) },
        });
      });
      return result.sessions;
    },

    /** Drops metadata past its absolute end (the expired-model cleaner calls this). */
    deleteExpired: (at?: Date) => db.repos.sessionMetadata.deleteExpired(at ?? now()),
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
