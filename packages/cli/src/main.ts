#!/usr/bin/env node
/**
 * `baton audit …` — who did this, for whom, through what. Reads the embedded audit store directory
 * (`--store`, default `$BATON_AUDIT_STORE` or `.baton/audit`) or PostgreSQL (`--postgres URL`), without
 * taking the writers' locks, so it can run while the services write.
 */
import { parseArgs } from 'node:util';
import { directoryAuditReader, postgresAuditReader, verifyAuditLog } from '@baton/audit-store';
import { startConsole } from '@baton/console';
import pg from 'pg';
import { AUDIT_OPTIONS, AUDIT_USAGE, auditCommand } from './audit-command.ts';
import { CONSOLE_USAGE, consoleCommandOptions } from './console-command.ts';

const [command, ...rest] = process.argv.slice(2);
if (command !== 'audit' && command !== 'console') {
  process.stderr.write(`usage: baton audit …  |  baton console …\n\n${AUDIT_USAGE}\n${CONSOLE_USAGE}`);
  process.exit(command === undefined || command === '--help' ? 0 : 2);
}

if (command === 'console') {
  let options: Awaited<ReturnType<typeof consoleCommandOptions>>;
  try {
    options = await consoleCommandOptions(rest);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${CONSOLE_USAGE}`);
    process.exit(2);
  }
  const { store, postgres, ...consoleOptions } = options;
  const pool = postgres ? new pg.Pool({ connectionString: postgres }) : undefined;
  const reader = pool
    ? postgresAuditReader(pool)
    : directoryAuditReader(store ?? process.env.BATON_AUDIT_STORE ?? '.baton/audit');
  const served = await startConsole({ ...consoleOptions, reader });
  process.stdout.write(`audit console ${served.url}\n`);
  const stop = async () => {
    await served.close();
    await pool?.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await new Promise(() => {});
}

const { values, positionals } = parseArgs({ args: rest, options: AUDIT_OPTIONS, allowPositionals: true });
const directory = values.store ?? process.env.BATON_AUDIT_STORE ?? '.baton/audit';
const pool = values.postgres ? new pg.Pool({ connectionString: values.postgres }) : undefined;
try {
  if (positionals[0] === 'verify') {
    const report = pool
      ? await verifyAuditLog({ pool, writer: positionals[1] ?? 'default' })
      : await verifyAuditLog({ directory, writer: positionals[1] ?? 'default' });
    for (const problem of report.problems) {
      process.stdout.write(
        `${problem.kind}  ${problem.line !== undefined ? `line ${problem.line}  ` : ''}${problem.seq !== undefined ? `seq ${problem.seq}  ` : ''}${problem.eventId ? `event ${problem.eventId}  ` : ''}${problem.detail}\n`,
      );
    }
    process.stdout.write(
      `${report.ok ? 'ok' : 'TAMPERED'}: ${report.events} events, ${report.checkpoints} signed checkpoints\n`,
    );
    process.exitCode = report.ok ? 0 : 1;
  } else {
    process.stdout.write(
      await auditCommand(rest, pool ? postgresAuditReader(pool) : directoryAuditReader(directory)),
    );
  }
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 2;
} finally {
  await pool?.end();
}
