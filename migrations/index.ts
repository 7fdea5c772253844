import { Initial1795000000000 } from './1795000000000-Initial.js';
import { HostedAccounts1795000000001 } from './1795000000001-HostedAccounts.js';

/** Every migration in order; listed explicitly so no loader globs the file system. */
export const migrations = [Initial1795000000000, HostedAccounts1795000000001];
