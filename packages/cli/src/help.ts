import { readFileSync } from 'node:fs';
import { AUDIT_USAGE } from './audit-command.ts';
import { CONSOLE_USAGE } from './console-command.ts';
import { REVOKE_USAGE } from './revoke-command.ts';

/** `baton --version`: this package's version (read from its package.json, beside `src/` and `dist/`). */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return String(manifest.version);
}

export const MAIN_USAGE = `usage: baton <command> [options]
commands:
  baton audit trace|list|export|verify …   read and check the audit trail
  baton console …                          serve the audit console
  baton revoke …                           revoke (or lift) at the broker: subject, grant, token, session, client
  baton --version                          print the version
  baton <command> [<subcommand>] --help    help for one command
`;

const SUBCOMMAND_USAGE: Record<string, string> = {
  trace: `usage: baton audit trace <trace-id> [store options]
  Prints one trace as a tree of hops (who initiated, which agent, which tool or API, the outcome).
store:   --store DIRECTORY (embedded) or --postgres URL; default $BATON_AUDIT_STORE or .baton/audit
`,
  list: `usage: baton audit list [filters] [store options]
  Prints matching actions, one line each; a trace with more than one initiator is marked.
filters: --user SUB --agent CLIENT_ID --tool NAME --outcome ok|denied|error --since TIME --until TIME --limit N
store:   --store DIRECTORY (embedded) or --postgres URL; default $BATON_AUDIT_STORE or .baton/audit
`,
  export: `usage: baton audit export [filters] [store options] [--output FILE]
  Writes matching events as JSON lines, for other tools.
  --output FILE   write to FILE (created owner-only; an existing file is not overwritten) instead of
                  standard output. Use it under \`npm run baton -- …\`: npm prints its own banner on
                  standard output (or run \`npm run --silent baton -- audit export > FILE\`).
filters: --user SUB --agent CLIENT_ID --tool NAME --outcome ok|denied|error --since TIME --until TIME --limit N
store:   --store DIRECTORY (embedded) or --postgres URL; default $BATON_AUDIT_STORE or .baton/audit
`,
  verify: `usage: baton audit verify [WRITER] [store options]
  Checks a writer's hash chain and signed checkpoints (WRITER default: default).
exit:    0 intact; 1 TAMPERED (problems listed); 2 no log found there, or a usage error
store:   --store DIRECTORY (embedded) or --postgres URL; default $BATON_AUDIT_STORE or .baton/audit
`,
};

/** The help for `baton audit [subcommand]`, or `undefined` for a subcommand that does not exist. */
export function auditHelp(subcommand: string | undefined): string | undefined {
  if (subcommand === undefined) return AUDIT_USAGE;
  return SUBCOMMAND_USAGE[subcommand];
}

export { AUDIT_USAGE, CONSOLE_USAGE, REVOKE_USAGE };
