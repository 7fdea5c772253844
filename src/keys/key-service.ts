import { NotFoundError } from '../errors/app-error.js';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SecretBox } from '../infra/secret-box.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { SigningKey } from './signing-key.entity.js';

export type SigningAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface KeyServiceDeps {
  db: Database<Repositories>;
  secretBox: SecretBox;
  algorithm: SigningAlg;
  /** Seconds a new key is published before it signs, so verifiers' JWKS caches pick it up first. */
  publishLeadSeconds: number;
  /** The longest lifetime of anything we sign: a retired key stays published that long. */
  maxTokenTtlSeconds: number;
  /** Days a key signs before the schedule replaces it; 0 turns the schedule off. */
  rotationDays?: number;
  now?: () => Date;
}

export interface PublishedKey { kid: string; alg: string; status: 'signing' | 'next' | 'retired'; createdAt: Date; activatesAt: Date; retiredAt: Date | null; expiresAt: Date | null }

async function generate(alg: SigningAlg): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return { publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

/**
 * Which key signs at `now`: the newest one already active and not yet retired. A pending key
 * overtaken by `rotate --now` is retired at its own activation time, so it never signs.
 */
function signingKeyAt(keys: SigningKey[], now: Date): SigningKey | undefined {
  return keys.find((key) => key.activatesAt <= now && (key.retiredAt === null || key.retiredAt > now));
}

/** Generates, rotates and publishes signing keys; private halves are sealed at rest. */
export function createKeyService(deps: KeyServiceDeps) {
  const { db, secretBox, algorithm } = deps;
  const now = deps.now ?? (() => new Date());

  async function createKey(repos: Repositories, activatesAt: Date, actor: string, type: 'key.created' | 'key.rotated'): Promise<SigningKey> {
    const { publicJwk, privateJwk } = await generate(algorithm);
    const kid = randomUUID();
    const key = await repos.signingKeys.insert({
      kid, alg: algorithm,
      publicJwk: { ...publicJwk, kid, alg: algorithm, use: 'sig' },
      privateJwkEncrypted: await secretBox.seal(JSON.stringify({ ...privateJwk, kid, alg: algorithm, use: 'sig' })),
      activatesAt, retiredAt: null, expiresAt: null,
    });
    await repos.audit.append({ type, actor, details: { kid, alg: algorithm, activatesAt: activatesAt.toISOString() } });
    return key;
  }

  /** Publishes a key that signs from `activatesAt`; the keys it replaces stay until what they signed expires. */
  async function publishNext(repos: Repositories, activatesAt: Date, actor: string, at: Date): Promise<PublishedKey> {
    const previous = await repos.signingKeys.listPublished(at);
    for (const old of previous.filter((key) => key.retiredAt === null)) {
      const retiredAt = old.activatesAt > activatesAt ? old.activatesAt : activatesAt;
      await repos.signingKeys.update(old.kid, { retiredAt, expiresAt: new Date(retiredAt.getTime() + deps.maxTokenTtlSeconds * 1000) });
    }
    const key = await createKey(repos, activatesAt, actor, 'key.rotated');
    return { kid: key.kid, alg: key.alg, status: activatesAt > at ? 'next' : 'signing', createdAt: key.createdAt, activatesAt, retiredAt: null, expiresAt: null };
  }

  function status(keys: SigningKey[], key: SigningKey, at: Date): PublishedKey['status'] {
    if (key.activatesAt > at) return key.retiredAt !== null && key.retiredAt <= key.activatesAt ? 'retired' : 'next';
    return signingKeyAt(keys, at)?.kid === key.kid ? 'signing' : 'retired';
  }

  return {
    /** At first start there is no key: make one that signs at once. */
    async ensureSigningKey(): Promise<void> {
      await db.transaction(async (repos) => {
        await repos.signingKeys.lock();
        const published = await repos.signingKeys.listPublished(now());
        if (!published.some((key) => key.alg === algorithm)) await createKey(repos, now(), 'system', 'key.created');
      });
    },

    /**
     * Publishes a new key that signs after the publish lead (or at once with `immediate`); the key
     * it replaces stays published until everything it signed has expired.
     */
    async rotate(actor: string, options: { immediate?: boolean } = {}): Promise<PublishedKey> {
      return db.transaction(async (repos) => {
        await repos.signingKeys.lock();
        const at = now();
        return publishNext(repos, new Date(at.getTime() + (options.immediate ? 0 : deps.publishLeadSeconds * 1000)), actor, at);
      });
    },

    /**
     * The rotation schedule: when the signing key has signed for rotationDays minus the publish
     * lead and no successor is waiting, publish one that takes over at the rotationDays mark.
     * Safe to call from every instance: the key lock makes one of them do it.
     */
    async rotateIfDue(): Promise<PublishedKey | undefined> {
      if (!deps.rotationDays) return undefined;
      return db.transaction(async (repos) => {
        await repos.signingKeys.lock();
        const at = now();
        const keys = await repos.signingKeys.listPublished(at);
        const signing = signingKeyAt(keys, at);
        if (!signing || keys.some((key) => key.activatesAt > at && key.retiredAt === null)) return undefined;
        const dueAt = signing.activatesAt.getTime() + deps.rotationDays! * 86_400_000;
        if (at.getTime() < dueAt - deps.publishLeadSeconds * 1000) return undefined;
        return publishNext(repos, new Date(Math.max(dueAt, at.getTime() + deps.publishLeadSeconds * 1000)), 'schedule', at);
      });
    },

    /**
     * Emergency revoke: the key leaves JWKS at once, so everything it signed stops verifying.
     * Revoking the signing key first puts a new one to work immediately.
     */
    async revoke(kid: string, actor: string): Promise<PublishedKey[]> {
      return db.transaction(async (repos) => {
        await repos.signingKeys.lock();
        const at = now();
        const keys = await repos.signingKeys.listPublished(at);
        const target = keys.find((key) => key.kid === kid);
        if (!target) throw new NotFoundError('key_not_found', `no published key ${kid}`);
        if (signingKeyAt(keys, at)?.kid === kid || keys.length === 1) await publishNext(repos, at, actor, at);
        await repos.signingKeys.update(kid, { retiredAt: target.retiredAt ?? at, expiresAt: at });
        await repos.audit.append({ type: 'key.revoked', actor, details: { kid } });
        const remaining = await repos.signingKeys.listPublished(new Date(at.getTime() + 1));
        return remaining.map((key) => ({ kid: key.kid, alg: key.alg, status: status(remaining, key, at), createdAt: key.createdAt, activatesAt: key.activatesAt, retiredAt: key.retiredAt, expiresAt: key.expiresAt }));
      });
    },

    async list(): Promise<PublishedKey[]> {
      const keys = await db.repos.signingKeys.listPublished(now());
      const at = now();
      return keys.map((key) => ({ kid: key.kid, alg: key.alg, status: status(keys, key, at), createdAt: key.createdAt, activatesAt: key.activatesAt, retiredAt: key.retiredAt, expiresAt: key.expiresAt }));
    },

    /** The private JWKS oidc-provider signs with: the signing key first, then every other published key. */
    async privateJwks(): Promise<{ keys: JWK[] }> {
      const at = now();
      const keys = await db.repos.signingKeys.listPublished(at);
      const signing = signingKeyAt(keys, at);
      const ordered = signing ? [signing, ...keys.filter((key) => key !== signing)] : keys;
      try {
        return { keys: await Promise.all(ordered.map(async (key) => JSON.parse(await secretBox.open(key.privateJwkEncrypted)) as JWK)) };
      } catch {
        throw new Error('cannot decrypt the signing keys: the encryption key (PORTCULLIS_ENCRYPTION_KEY) differs from the one they were sealed with');
      }
    },

    /** The public JWKS of every published key, for verifying tokens Portcullis issued itself. */
    async publicJwks(): Promise<{ keys: JWK[] }> {
      return { keys: (await db.repos.signingKeys.listPublished(now())).map((key) => key.publicJwk as JWK) };
    },

    /** A fingerprint of what privateJwks() would return at this moment, to detect changes cheaply. */
    async fingerprint(): Promise<string> {
      const at = now();
      const keys = await db.repos.signingKeys.listPublished(at);
      return `${signingKeyAt(keys, at)?.kid ?? ''}|${keys.map((key) => key.kid).join(',')}`;
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
