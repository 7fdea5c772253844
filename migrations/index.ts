import { Initial1795000000000 } from './1795000000000-Initial.js';

/** Every migration in order; listed explicitly so no loader globs the file system. */
export const migrations = [Initial1795000000000];
