import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase { url: string; name: string }

/** A fresh, migrated database for one test file, cloned from the global template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const template = inject('templateDatabase');
  const ownerPid = template.replace('portcullis_tpl_', '');
  const name = `portcullis_t${ownerPid}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name };
}

/** A Redis key prefix no other test file shares; undefined when the suite runs without Redis. */
export function testRedis(): { url: string; keyPrefix: string } | undefined {
  const url = inject('redisUrl');
  return url ? { url, keyPrefix: `test:${randomBytes(6).toString('hex')}:` } : undefined;
}
