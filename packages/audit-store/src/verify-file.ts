import { GENESIS_HASH } from './chain-hash.ts';
import { keysByKid } from './checkpoint-signer.ts';
import { readIfExists } from './durable-fs.ts';
import { fileStorePaths } from './file-store.ts';
import { readKeyFile } from './key-file.ts';
import { parseLog } from './line-format.ts';
import { checkDirectory, checkWriter } from './options.ts';
import { type AuditLogProblem, type AuditVerifyReport, verifyChain } from './verify-chain.ts';

/** Public keys to trust for checkpoints: a JWKS or a list of JWKs. */
export type TrustedKeys = { keys: readonly unknown[] } | readonly unknown[];

export interface VerifyFileOptions {
  directory: string;
  writer?: string;
  /**
   * Checkpoint keys to trust. Default: the keys file next to the log, which proves integrity against
   * anyone who edits the log alone; pin the keys elsewhere to also catch a rewritten keys file.
   */
  trustedKeys?: TrustedKeys;
}

export function trustedKeyList(trusted: TrustedKeys): readonly unknown[] {
  return Array.isArray(trusted) ? trusted : (trusted as { keys: readonly unknown[] }).keys;
}

/**
 * Verifies a file store's log (it may be open and being written: a line being written at that moment
 * shows as `torn_line`). Reports every problem with its line, seq and event id.
 */
export async function verifyAuditFile(options: VerifyFileOptions): Promise<AuditVerifyReport> {
  const owner = 'verifyAuditLog';
  const paths = fileStorePaths(
    checkDirectory(owner, 'directory', options.directory),
    checkWriter(owner, options.writer ?? 'default'),
  );
  const bytes = await readIfExists(paths.log);
  if (bytes === undefined) {
    return {
      ok: false,
      events: 0,
      checkpoints: 0,
      problems: [{ kind: 'deleted', detail: `${paths.log} does not exist` }],
    };
  }
  const parsed = parseLog(bytes);
  const problems: AuditLogProblem[] = parsed.lines.flatMap((line) =>
    line.kind === 'malformed' ? [{ kind: line.problem, line: line.line, detail: line.detail }] : [],
  );
  if (parsed.tornBytes > 0) {
    const line = parsed.lines.length + 1;
    problems.push({
      kind: 'torn_line',
      line,
      detail: `line ${line} is incomplete (${parsed.tornBytes} bytes without a newline): a write cut short by a crash, never acknowledged; the next open removes it`,
    });
  }
  const jwks =
    options.trustedKeys !== undefined ? trustedKeyList(options.trustedKeys) : await readKeyFile(paths.keys);
  return verifyChain({
    records: parsed.lines.flatMap((line) =>
      line.kind === 'record' ? [{ line: line.line, value: line.record }] : [],
    ),
    checkpoints: parsed.lines.flatMap((line) =>
      line.kind === 'checkpoint' ? [{ line: line.line, value: line.checkpoint }] : [],
    ),
    problems,
    base: { seq: 0, hash: GENESIS_HASH },
    writer: options.writer ?? 'default',
    keys: keysByKid(jwks),
  });
}
