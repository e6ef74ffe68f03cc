import { type VerifyPostgresOptions, verifyPostgresAuditLog } from './postgres/verify-postgres.ts';
import type { AuditVerifyReport } from './verify-chain.ts';
import { type VerifyFileOptions, verifyAuditFile } from './verify-file.ts';

/**
 * Checks a writer's audit chain for tampering and says where: a file store's log (`{ directory,
 * writer? }`) or a PostgreSQL store's table (`{ pool, writer, tablePrefix? }`). `ok` is true only when
 * there is no problem at all.
 */
export function verifyAuditLog(
  options: VerifyFileOptions | VerifyPostgresOptions,
): Promise<AuditVerifyReport> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('verifyAuditLog needs { directory, writer? } or { pool, writer, tablePrefix? }');
  }
  return 'pool' in options ? verifyPostgresAuditLog(options) : verifyAuditFile(options);
}
