import { randomBytes } from 'node:crypto';
import { dropLogin, ensureServiceLogin } from '../../src/infra/service-login.js';

export interface RuntimeRole { name: string; url: string; drop(): Promise<void> }

/**
 * A uniquely named login role in portcullis_app (roles are cluster-wide, so never a fixed name),
 * and `ownerUrl` with that role's credentials. `drop()` removes it once its connections are closed.
 */
export async function createRuntimeRole(ownerUrl: string): Promise<RuntimeRole> {
  const name = `pcl_rt_${randomBytes(6).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const url = await ensureServiceLogin(ownerUrl, name, password);
  return {
    name, url,
    drop: () => dropLogin(ownerUrl, name),
  };
}
