import { BadRequestError } from '../errors/app-error.js';
import type { PasswordProblem, PasswordVerdict } from './password-policy.js';

/** A new password the policy refused; pages list each problem from the message catalogue. */
export class PasswordRejectedError extends BadRequestError {
  constructor(readonly problems: PasswordProblem[]) {
    super('password_rejected', `password refused: ${problems.map((p) => p.code).join(', ')}`);
  }
}

/** Throws PasswordRejectedError unless the verdict is ok. */
export function assertPasswordAccepted(verdict: PasswordVerdict): void {
  if (!verdict.ok) throw new PasswordRejectedError(verdict.problems);
}
