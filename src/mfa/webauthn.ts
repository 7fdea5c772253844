import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { auditContext, type FlowContext } from '../accounts/account-flow-deps.js';
import type { SecurityNotices } from '../accounts/security-notices.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors/app-error.js';
import type { Database } from '../infra/unit-of-work.js';
import type { Repositories } from '../repositories.js';
import type { MfaFactor } from './mfa-factor.entity.js';
import { defaultChallengeTtlSeconds, type PendingChallenge, type WebAuthnChallengeStore } from './webauthn-challenge-store.js';

export type { AuthenticationResponseJSON, RegistrationResponseJSON };

/** Why a ceremony failed: recorded in the audit log, never shown (the person sees one message). */
export type WebAuthnFailureReason =
  | 'challenge' | 'malformed' | 'verification' | 'unknown_credential' | 'wrong_account' | 'user_handle' | 'counter';

/** 400 `webauthn_failed`: the same answer whatever went wrong, so it can't be used as an oracle. */
export class WebAuthnError extends BadRequestError {
  constructor(readonly reason: WebAuthnFailureReason) {
    super('webauthn_failed', 'Your passkey or security key could not be verified. Try again.');
  }
}

export interface WebAuthnServiceDeps {
  db: Database<Repositories>;
  /** Shown by the authenticator when a credential is created. */
  rpName: string;
  /** The registrable domain credentials are scoped to (the issuer's host). */
  rpId: string;
  /** The exact origin the browser reports in clientDataJSON (the issuer's origin). */
  origin: string;
  challengeStore: WebAuthnChallengeStore;
  /** Must match the store's TTL: it becomes the `timeout` hint the browser gets. */
  challengeTtlSeconds?: number;
  /** Tells the owner a passkey was added (the container always passes it). */
  notices?: Pick<SecurityNotices, 'factorAdded'>;
  now?: () => Date;
}

export interface WebAuthnAuthentication {
  accountId: string;
  factorId: string;
  userVerified: boolean;
  /** RFC 8176: `hwk` for a device-bound credential, `swk` for one that may be synced (a passkey). */
  amr: ['hwk'] | ['swk'];
}

const knownTransports = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const utf8 = new TextEncoder();

const isWebAuthn = (factor: MfaFactor) => factor.type === 'webauthn' && factor.credentialId !== null && factor.confirmedAt !== null;
const descriptor = (factor: MfaFactor) => ({ id: factor.credentialId!, transports: factor.transports ?? undefined });

/** True when `response` has the string fields every credential JSON has; the library checks the rest. */
function wellFormed(response: unknown): response is { id: string; rawId: string; response: Record<string, unknown> } {
  const r = response as { id?: unknown; rawId?: unknown; response?: unknown } | null;
  return typeof r?.id === 'string' && /^[\w-]{1,1366}$/.test(r.id) && r.rawId === r.id && typeof r.response === 'object' && r.response !== null;
}

const isUniqueViolation = (error: unknown) =>
  (error as { code?: unknown }).code === '23505' || (error as { driverError?: { code?: unknown } }).driverError?.code === '23505';

/** Passkey and security-key ceremonies (W3C WebAuthn Level 3 §7), with server-held single-use challenges. */
export function createWebAuthnService(deps: WebAuthnServiceDeps) {
  const { db, rpId, origin, challengeStore } = deps;
  const now = deps.now ?? (() => new Date());
  const timeout = (deps.challengeTtlSeconds ?? defaultChallengeTtlSeconds) * 1000;

  async function audit(type: string, accountId: string, context: FlowContext, details: Record<string, unknown>, repos = db.repos) {
    await repos.audit.append({ type, actor: `account:${accountId}`, accountId, ...auditContext(context), details: { factorType: 'webauthn', ...details } });
  }

  /** Audits a failure against the account when one is known, then throws. */
  async function fail(reason: WebAuthnFailureReason, type: string, accountId: string | null | undefined, context: FlowContext, details: Record<string, unknown> = {}): Promise<never> {
    if (accountId) await audit(type, accountId, context, { reason, ...details });
    throw new WebAuthnError(reason);
  }

  async function take(handle: string, purpose: PendingChallenge['purpose']): Promise<PendingChallenge | undefined> {
    const pending = typeof handle === 'string' ? await challengeStore.consume(handle) : undefined;
    return pending?.purpose === purpose ? pending : undefined;
  }

  return {
    /** Options for navigator.credentials.create(), and the handle naming the challenge kept server-side. */
    async registrationOptions(account: { id: string; email: string; name?: string | null }, existing: MfaFactor[]):
      Promise<{ options: PublicKeyCredentialCreationOptionsJSON; handle: string }> {
      const options = await generateRegistrationOptions({
        rpName: deps.rpName, rpID: rpId, userName: account.email, userDisplayName: account.name || account.email,
        // The account id as user handle: a passwordless assertion names its account (§7.2 step 6), and
        // re-registering on one authenticator replaces its discoverable credential instead of adding one.
        userID: utf8.encode(account.id),
        timeout, attestationType: 'none',
        excludeCredentials: existing.filter(isWebAuthn).map(descriptor),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      const handle = await challengeStore.issue({ challenge: options.challenge, purpose: 'registration', accountId: account.id });
      return { options, handle };
    },

    /** Verifies a new credential and stores it as a confirmed factor; returns the factor id. */
    async finishRegistration(accountId: string, handle: string, response: RegistrationResponseJSON, name: string, context: FlowContext): Promise<string> {
      const pending = await take(handle, 'registration');
      if (!pending || pending.accountId !== accountId) return fail('challenge', 'mfa.enrolment_failed', accountId, context);
      const verification = await verifyRegistrationResponse({
        response, expectedChallenge: pending.challenge, expectedOrigin: origin, expectedRPID: rpId, requireUserVerification: false,
      }).catch(() => undefined);
      if (!verification?.verified) return fail('verification', 'mfa.enrolment_failed', accountId, context);
      const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;

      const conflict = new ConflictError('webauthn_credential_exists', 'This passkey or security key is already registered.');
      if (await db.repos.mfaFactors.findByCredentialId(credential.id)) throw conflict;
      const label = name.trim().slice(0, 60) || (credentialDeviceType === 'multiDevice' ? 'Passkey' : 'Security key');
      const transports = (response.response.transports ?? []).filter((transport) => knownTransports.has(transport));
      try {
        const factorId = await db.transaction(async (repos) => {
          const factor = await repos.mfaFactors.insert({
            accountId, type: 'webauthn', name: label, credentialId: credential.id, publicKey: Buffer.from(credential.publicKey),
            signCount: String(credential.counter), transports, deviceType: credentialDeviceType, backedUp: credentialBackedUp, confirmedAt: now(),
          });
          await audit('mfa.enrolled', accountId, context, { factorId: factor.id, name: label, deviceType: credentialDeviceType, backedUp: credentialBackedUp }, repos);
          await deps.notices?.factorAdded(repos, accountId, 'webauthn', context);
          return factor.id;
        });
        return factorId;
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict; // the same credential, registered by a racing request
        throw error;
      }
    },

    /**
     * Options for navigator.credentials.get(). With an account: its credentials, as a second factor.
     * Without: no allowCredentials, so the browser offers discoverable credentials (passkeys), and
     * user verification is required because the passkey is then the only factor.
     */
    async authenticationOptions(accountId?: string): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; handle: string }> {
      let allowCredentials: Array<ReturnType<typeof descriptor>> = [];
      if (accountId) {
        allowCredentials = (await db.repos.mfaFactors.listConfirmed(accountId)).filter(isWebAuthn).map(descriptor);
        if (!allowCredentials.length) throw new NotFoundError('factor_not_found', 'No passkey or security key is registered.');
      }
      const options = await generateAuthenticationOptions({
        rpID: rpId, allowCredentials, timeout, userVerification: accountId ? 'preferred' : 'required',
      });
      const handle = await challengeStore.issue({ challenge: options.challenge, purpose: 'authentication', accountId: accountId ?? null });
      return { options, handle };
    },

    /** Verifies an assertion against the stored credential; throws WebAuthnError (400 `webauthn_failed`). */
    async finishAuthentication(handle: string, response: AuthenticationResponseJSON, context: FlowContext, expectedAccountId?: string): Promise<WebAuthnAuthentication> {
      const pending = await take(handle, 'authentication');
      const failed = 'mfa.challenge_failed';
      if (!pending || (expectedAccountId && pending.accountId && pending.accountId !== expectedAccountId)) {
        return fail('challenge', failed, expectedAccountId ?? pending?.accountId, context);
      }
      const owner = expectedAccountId ?? pending.accountId ?? undefined;
      const passwordless = pending.accountId === null;
      if (!wellFormed(response)) return fail('malformed', failed, owner, context);
      const factor = await db.repos.mfaFactors.findByCredentialId(response.id);
      if (!factor || !isWebAuthn(factor) || !factor.publicKey) return fail('unknown_credential', failed, owner, context);
      if (owner && factor.accountId !== owner) return fail('wrong_account', failed, owner, context, { factorId: factor.id });
      const userHandle = response.response.userHandle;
      // §7.2 step 6: a discoverable credential must name its owner, and the name must match.
      if ((passwordless || userHandle) && (!userHandle || Buffer.from(userHandle, 'base64url').toString('utf8') !== factor.accountId)) {
        return fail('user_handle', failed, factor.accountId, context, { factorId: factor.id });
      }

      const verification = await verifyAuthenticationResponse({
        response, expectedChallenge: pending.challenge, expectedOrigin: origin, expectedRPID: rpId,
        // Counter 0 turns off the library's read-then-compare check: acceptSignCount below does it
        // atomically in the database, so two replays racing each other can't both pass.
        credential: { id: factor.credentialId!, publicKey: new Uint8Array(factor.publicKey), counter: 0, transports: factor.transports ?? undefined },
        requireUserVerification: passwordless,
      }).catch(() => undefined);
      if (!verification?.verified) return fail('verification', failed, factor.accountId, context, { factorId: factor.id });
      const { newCounter, userVerified, credentialDeviceType, credentialBackedUp } = verification.authenticationInfo;

      // §6.1.1: a counter that stops counting (0 after a positive value) is as suspect as one going back;
      // the repository accepts 0 unconditionally (for authenticators that never count), so check here.
      const counted = newCounter === 0 && Number(factor.signCount ?? 0) > 0 ? false : await db.transaction(async (repos) => {
        if (!(await repos.mfaFactors.acceptSignCount(factor.id, newCounter, now()))) return false;
        if (factor.backedUp !== credentialBackedUp) await repos.mfaFactors.update(factor.id, { backedUp: credentialBackedUp });
        await audit('mfa.challenge_passed', factor.accountId, context, { factorId: factor.id, userVerified, passwordless }, repos);
        return true;
      });
      if (!counted) return fail('counter', failed, factor.accountId, context, { factorId: factor.id, counter: newCounter });
      return {
        accountId: factor.accountId, factorId: factor.id, userVerified,
        amr: credentialDeviceType === 'multiDevice' ? ['swk'] : ['hwk'],
      };
    },
  };
}

export type WebAuthnService = ReturnType<typeof createWebAuthnService>;
