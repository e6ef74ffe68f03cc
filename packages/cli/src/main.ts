#!/usr/bin/env node
/**
 * `baton audit …` — who did this, for whom, through what. `baton revoke …` — revocation at the broker. Reads the embedded audit store directory
 * (`--store`, default `$BATON_AUDIT_STORE` or `.baton/audit`) or PostgreSQL (`--postgres URL`), without
 * taking the writers' locks, so it can run while the services write.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@baton/audit';
import { directoryAuditReader, postgresAuditReader } from '@baton/audit-store';
import { startConsole } from '@baton/console';
import { onShutdownSignal } from '@baton/resource-server/operations';
import pg from 'pg';
import { AUDIT_OPTIONS, auditCommand } from './audit-command.ts';
import { consoleCommandOptions } from './console-command.ts';
import { writeExportFile } from './export-file.ts';
import { AUDIT_USAGE, auditHelp, CONSOLE_USAGE, cliVersion, MAIN_USAGE, REVOKE_USAGE } from './help.ts';
import { revokeCommand } from './revoke-command.ts';
import { verifyCommand } from './verify-command.ts';

const [command, ...rest] = process.argv.slice(2);
if (command === '--version' || command === '-V' || command === 'version') {
  process.stdout.write(`baton ${cliVersion()}\n`);
  process.exit(0);
}
if (command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(`${MAIN_USAGE}\n${AUDIT_USAGE}\n${CONSOLE_USAGE}\n${REVOKE_USAGE}`);
  process.exit(0);
}
if (command !== 'audit' && command !== 'console' && command !== 'revoke') {
  process.stderr.write(
    `${command === undefined ? '' : `baton: unknown command ${command}\n\n`}${MAIN_USAGE}\n${AUDIT_USAGE}\n${CONSOLE_USAGE}\n${REVOKE_USAGE}`,
  );
  process.exit(command === undefined ? 0 : 2);
}

if (command === 'revoke') {
  const outcome = await revokeCommand(rest);
  process.stdout.write(outcome.stdout);
  process.stderr.write(outcome.stderr);
  process.exit(outcome.exitCode);
}

if (command === 'console') {
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(CONSOLE_USAGE);
    process.exit(0);
  }
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
  const served = await startConsole({
    ...consoleOptions,
    reader,
    ...(pool ? { readiness: [{ name: 'postgres', check: () => pool.query('SELECT 1') }] } : {}),
  });
  // SIGTERM/SIGINT: stop accepting, let page loads in flight finish, then close the store's pool.
  onShutdownSignal(createLogger({ name: 'baton-console', destination: process.stderr as never }), [
    { name: 'http', run: () => served.close() },
    { name: 'stores', run: () => pool?.end() },
  ]);
  process.stdout.write(`audit console ${served.url}\n`);
  await new Promise(() => {});
}

const { values, positionals } = parseArgs({ args: rest, options: AUDIT_OPTIONS, allowPositionals: true });
if (values.help || positionals.length === 0) {
  const help = auditHelp(positionals[0]);
  if (help === undefined) {
    process.stderr.write(`baton audit: unknown subcommand ${positionals[0]}\n\n${AUDIT_USAGE}`);
    process.exit(2);
  }
  (values.help ? process.stdout : process.stderr).write(help);
  process.exit(values.help ? 0 : 2);
}
const directory = values.store ?? process.env.BATON_AUDIT_STORE ?? '.baton/audit';
const pool = values.postgres ? new pg.Pool({ connectionString: values.postgres }) : undefined;
try {
  if (values.output !== undefined && positionals[0] !== 'export') {
    throw new Error('--output is for baton audit export');
  }
  if (positionals[0] === 'verify') {
    const outcome = await verifyCommand(pool ? { pool } : { directory }, positionals[1] ?? 'default');
    process.stdout.write(outcome.stdout);
    process.stderr.write(outcome.stderr);
    process.exitCode = outcome.exitCode;
  } else {
    const text = await auditCommand(
      rest.filter(
        (arg, index) =>
          !(arg === '--output' || rest[index - 1] === '--output') && !arg.startsWith('--output='),
      ),
      pool ? postgresAuditReader(pool) : directoryAuditReader(directory),
    );
    if (values.output !== undefined) {
      await writeExportFile(values.output, text);
    } else {
      if (
        positionals[0] === 'export' &&
        process.env.npm_lifecycle_event === 'baton' &&
        process.env.npm_config_loglevel !== 'silent'
      ) {
        process.stderr.write(
          'baton: npm printed its banner on standard output before this export; use --output FILE or `npm run --silent baton -- …`\n',
        );
      }
      process.stdout.write(text);
    }
  }
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 2;
} finally {
  await pool?.end();
}
