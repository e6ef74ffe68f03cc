import { access } from 'node:fs/promises';
import { fileStorePaths, verifyAuditLog } from '@baton/audit-store';
import type pg from 'pg';

/** What `baton audit verify` prints and how it exits: 0 intact, 1 tampered, 2 no log to verify. */
export interface VerifyOutcome {
  stdout: string;
  stderr: string;
  exitCode: 0 | 1 | 2;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Verifies a writer's log. A file store with neither the log nor its checkpoint keys, or a PostgreSQL
 * store with no event and no checkpoint for the writer, has no log there (exit 2, saying where it
 * looked); a log file deleted beside its keys is tampering (exit 1).
 */
export async function verifyCommand(
  source: { directory: string } | { pool: pg.Pool },
  writer: string,
): Promise<VerifyOutcome> {
  if ('directory' in source) {
    const paths = fileStorePaths(source.directory, writer);
    if (!(await exists(paths.log)) && !(await exists(paths.keys))) {
      return {
        stdout: '',
        stderr: `no audit log for writer "${writer}" in ${source.directory} (give --store DIRECTORY or --postgres URL, or set $BATON_AUDIT_STORE)\n`,
        exitCode: 2,
      };
    }
  }
  const report =
    'pool' in source
      ? await verifyAuditLog({ pool: source.pool, writer })
      : await verifyAuditLog({ directory: source.directory, writer });
  if ('pool' in source && report.ok && report.events === 0 && report.checkpoints === 0) {
    return {
      stdout: '',
      stderr: `no audit log for writer "${writer}" in PostgreSQL (no event and no checkpoint)\n`,
      exitCode: 2,
    };
  }
  const lines = report.problems.map(
    (problem) =>
      `${problem.kind}  ${problem.line !== undefined ? `line ${problem.line}  ` : ''}${problem.seq !== undefined ? `seq ${problem.seq}  ` : ''}${problem.eventId ? `event ${problem.eventId}  ` : ''}${problem.detail}\n`,
  );
  lines.push(
    `${report.ok ? 'ok' : 'TAMPERED'}: ${report.events} events, ${report.checkpoints} signed checkpoints\n`,
  );
  return { stdout: lines.join(''), stderr: '', exitCode: report.ok ? 0 : 1 };
}
