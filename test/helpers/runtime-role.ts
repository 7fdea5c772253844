import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { APP_ROLE } from '../../migrations/1795000000014-AuditCheckpoints.js';

export interface RuntimeRole { name: string; url: string; drop(): Promise<void> }

/**
 * A uniquely named login role in portcullis_app (roles are cluster-wide, so never a fixed name),
 * and `ownerUrl` with that role's credentials. `drop()` removes it once its connections are closed.
 */
export async function createRuntimeRole(ownerUrl: string): Promise<RuntimeRole> {
  const name = `pcl_rt_${randomBytes(6).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: ownerUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}' IN ROLE ${APP_ROLE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ownerUrl);
  url.username = name;
  url.password = password;
  return {
    name, url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ownerUrl });
      await client.connect();
      try {
        await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [name]);
        await client.query(`DROP ROLE IF EXISTS ${name}`);
      } finally {
        await client.end();
      }
    },
  };
}
