import { Initial1795000000000 } from './1795000000000-Initial.js';
import { HostedAccounts1795000000001 } from './1795000000001-HostedAccounts.js';
import { MultiFactor1795000000002 } from './1795000000002-MultiFactor.js';
import { WebAuthnChallenges1795000000003 } from './1795000000003-WebAuthnChallenges.js';
import { SessionMetadata1795000000004 } from './1795000000004-SessionMetadata.js';
import { ClientTokenSettings1795000000005 } from './1795000000005-ClientTokenSettings.js';
import { Rbac1795000000006 } from './1795000000006-Rbac.js';
import { ApiKeys1795000000007 } from './1795000000007-ApiKeys.js';
import { Apis1795000000008 } from './1795000000008-Apis.js';
import { AuditQueryIndexes1795000000009 } from './1795000000009-AuditQueryIndexes.js';
import { ClientClaimSettings1795000000010 } from './1795000000010-ClientClaimSettings.js';
import { CanonicalIdentifiers1795000000011 } from './1795000000011-CanonicalIdentifiers.js';
import { Outbox1795000000013 } from './1795000000013-Outbox.js';
import { PrivilegedApis1795000000012 } from './1795000000012-PrivilegedApis.js';
import { AuditCheckpoints1795000000014 } from './1795000000014-AuditCheckpoints.js';
import { LockoutRecords1795000000017 } from './1795000000017-LockoutRecords.js';

/** Every migration in order; listed explicitly so no loader globs the file system. */
export const migrations = [
  Initial1795000000000, HostedAccounts1795000000001, MultiFactor1795000000002, WebAuthnChallenges1795000000003,
  SessionMetadata1795000000004, ClientTokenSettings1795000000005, Rbac1795000000006, ApiKeys1795000000007,
  Apis1795000000008, AuditQueryIndexes1795000000009, ClientClaimSettings1795000000010,
  CanonicalIdentifiers1795000000011,
  PrivilegedApis1795000000012,
  Outbox1795000000013,
  AuditCheckpoints1795000000014,
  LockoutRecords1795000000017,
];
