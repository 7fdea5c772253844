import type { EntityManager } from 'typeorm';

/** What the connected role may do to one audit table. */
export interface AuditTablePrivileges {
  table: string;
  role: string;
  canInsert: boolean;
  canSelect: boolean;
  canUpdate: boolean;
  canDelete: boolean;
  canTruncate: boolean;
  /** Owns it, or may act as its owner (ALTER TABLE … DISABLE TRIGGER, DROP). */
  owns: boolean;
  superuser: boolean;
}

export const AUDIT_TABLES = ['audit_events', 'audit_checkpoints'];

interface PrivilegeRow {
  table: string; role: string; can_insert: boolean; can_select: boolean; can_update: boolean;
  can_delete: boolean; can_truncate: boolean; owns: boolean; superuser: boolean;
}

/** The current role's privileges on each audit table, as PostgreSQL itself answers them. */
export async function readAuditTablePrivileges(manager: EntityManager): Promise<AuditTablePrivileges[]> {
  const rows = (await manager.query(`
    SELECT c.relname AS table, current_user AS role,
           has_table_privilege(c.oid, 'INSERT') AS can_insert, has_table_privilege(c.oid, 'SELECT') AS can_select,
           has_table_privilege(c.oid, 'UPDATE') AS can_update, has_table_privilege(c.oid, 'DELETE') AS can_delete,
           has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate, pg_has_role(c.relowner, 'MEMBER') AS owns,
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
      FROM pg_class c
     WHERE c.oid = ANY (ARRAY[to_regclass('audit_events'), to_regclass('audit_checkpoints')])
     ORDER BY c.relname`)) as PrivilegeRow[];
  return rows.map((row) => ({
    table: row.table, role: row.role, canInsert: row.can_insert, canSelect: row.can_select, canUpdate: row.can_update,
    canDelete: row.can_delete, canTruncate: row.can_truncate, owns: row.owns, superuser: row.superuser,
  }));
}
