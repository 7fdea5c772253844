import type { Logger } from '../infra/logger.js';
import type { AuditTablePrivileges } from './audit-privilege-repository.js';

/** Thrown in production when the service's role could rewrite the audit trail. */
export class AuditPrivilegeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditPrivilegeError';
  }
}

/** What is too much about the role's privileges on each audit table, one phrase per table; empty when none. */
export function excessAuditPrivileges(privileges: AuditTablePrivileges[]): string[] {
  return privileges.flatMap((p) => {
    const excess = [
      ...(p.superuser ? ['is a superuser'] : p.owns ? ['owns the table (may disable its triggers)'] : []),
      ...(['Update', 'Delete', 'Truncate'] as const)
        .filter((op) => p[`can${op}`]).map((op) => `may ${op.toUpperCase()}`),
    ];
    return excess.length ? [`${p.table}: role ${p.role} ${excess.join(', ')}`] : [];
  });
}

/**
 * The service must not be able to change or remove audit rows. In production an over-privileged
 * role refuses the start (run migrations as the owner, the service as a member of portcullis_app);
 * elsewhere it is a warning, so one-role development and CI set-ups keep working.
 */
export function assertAuditPrivileges(
  privileges: AuditTablePrivileges[], options: { production: boolean; logger: Logger },
): void {
  const problems = excessAuditPrivileges(privileges);
  const missing = privileges.filter((p) => !p.canInsert || !p.canSelect)
    .map((p) => `${p.table}: role ${p.role} needs INSERT and SELECT`);
  if (missing.length) {
    throw new AuditPrivilegeError(`the database role cannot write the audit trail: ${missing.join('; ')}`);
  }
  if (!problems.length) return;
  const message = `the database role can rewrite the audit trail (${problems.join('; ')}); `
    + 'run the service as a role with only INSERT and SELECT on the audit tables and migrations as the owner '
    + '(DATABASE_MIGRATION_URL; README "Database roles")';
  if (options.production) throw new AuditPrivilegeError(message);
  options.logger.warn(message);
}
