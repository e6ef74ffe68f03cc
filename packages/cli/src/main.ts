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

const [command, ...rest] = process.argv.slice(2);
if (command !== 'audit' && command !== 'console') {
  process.stderr.write(`usage: baton audit …  |  baton console [--port N] [store options]\n\n${AUDIT_USAGE}`);
  process.exit(command === undefined || command === '--help' ? 0 : 2);
}

if (command === 'console') {
  const { values } = parseArgs({
    args: rest,
    options: { ...AUDIT_OPTIONS, port: { type: 'string' }, host: { type: 'string' } },
  });
  const pool = values.postgres ? new pg.Pool({ connectionString: values.postgres }) : undefined;
  const reader = pool
    ? postgresAuditReader(pool)
    : directoryAuditReader(values.store ?? process.env.BATON_AUDIT_STORE ?? '.baton/audit');
  const served = await startConsole({
    reader,
    host: values.host ?? '127.0.0.1',
    port: Number(values.port ?? 4020),
  });
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
