import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { serviceCredentials } from '@baton/broker-client';
import { type JWK, SignJWT } from 'jose';

export const REVOKE_USAGE = `usage:
  baton revoke --subject SUB [--before TIME | --disable] [--reason TEXT] [broker options]
  baton revoke --root ISS#JTI | --jti JTI | --session SID | --client CLIENT_ID [--reason TEXT] [broker options]
  baton revoke --lift --subject SUB | --client CLIENT_ID [--reason TEXT] [broker options]
  baton revoke --list [broker options]
  Revokes at the broker (its admin API, /admin/revocations) and prints how many unexpired tokens the
  revocation covers. A subject: its tokens issued before TIME (an ISO 8601 instant, Unix seconds, or
  "now", the default); --disable: every token and every new exchange until --lift. A client: its
  tokens, every chain it acts in, and its requests until --lift.
broker options:
  --broker URL               the broker's issuer URL                          (or $BATON_BROKER_URL)
  --client-id ID             an admin client the broker lists in adminClients (or $BATON_ADMIN_CLIENT_ID)
  --private-key-file PATH    its private JWK (JSON), for a private_key_jwt assertion
                                                                    (or $BATON_ADMIN_PRIVATE_KEY_FILE)
  --client-secret-file PATH  or its client secret, for a client_secret_jwt assertion
                                                                    (or $BATON_ADMIN_CLIENT_SECRET)
exit:    0 done; 1 the broker refused or could not be reached; 2 a usage error
`;

export const REVOKE_OPTIONS = {
  subject: { type: 'string' },
  root: { type: 'string' },
  jti: { type: 'string' },
  session: { type: 'string' },
  client: { type: 'string' },
  before: { type: 'string' },
  disable: { type: 'boolean' },
  lift: { type: 'boolean' },
  list: { type: 'boolean' },
  reason: { type: 'string' },
  broker: { type: 'string' },
  'client-id': { type: 'string' },
  'private-key-file': { type: 'string' },
  'client-secret-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const TARGETS = ['subject', 'root', 'jti', 'session', 'client'] as const;
const ADMIN_PATH = '/admin/revocations';

/** What one run prints and exits with. */
export interface CommandOutcome {
  stdout: string;
  stderr: string;
  exitCode: number;
}

class UsageError extends Error {}

/** What the command sends: the path, the method and the JSON body (none for a listing). */
interface AdminRequest {
  path: string;
  method: 'GET' | 'POST';
  body?: Record<string, unknown>;
  describe: string;
}

/**
 * `baton revoke …`: one call to the broker's revocation admin API, authenticated with a fresh,
 * single-use client assertion of an admin client (its private key, or its secret; never a flag value).
 */
export async function revokeCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandOutcome> {
  let request: AdminRequest;
  let broker: string;
  let sign: (audience: string) => Promise<string>;
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: REVOKE_OPTIONS,
      allowPositionals: true,
    });
    if (values.help) return { stdout: REVOKE_USAGE, stderr: '', exitCode: 0 };
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    request = requestOf(values);
    broker = (values.broker ?? env.BATON_BROKER_URL ?? '').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(broker))
      throw new UsageError('give the broker: --broker URL or $BATON_BROKER_URL');
    sign = await assertionSigner(values, env);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return {
        stdout: '',
        stderr: `baton revoke: ${(error as Error).message}\n\n${REVOKE_USAGE}`,
        exitCode: 2,
      };
    }
    return { stdout: '', stderr: `baton revoke: ${(error as Error).message}\n`, exitCode: 2 };
  }

  let response: Response;
  try {
    response = await fetch(`${broker}${request.path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${await sign(`${broker}${ADMIN_PATH}`)}`,
        ...(request.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(request.body ? { body: JSON.stringify(request.body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    return {
      stdout: '',
      stderr: `baton revoke: the broker could not be reached: ${(error as Error).message}\n`,
      exitCode: 1,
    };
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status !== 200) {
    const why = body.error
      ? `${String(body.error)}${body.error_description ? `: ${String(body.error_description)}` : ''}`
      : 'authentication required';
    return {
      stdout: '',
      stderr: `baton revoke: the broker refused (${response.status}): ${why}\n`,
      exitCode: 1,
    };
  }
  return { stdout: printed(request, body), stderr: '', exitCode: 0 };
}

function requestOf(values: Record<string, string | boolean | undefined>): AdminRequest {
  const named = TARGETS.filter((key) => values[key] !== undefined);
  const reason = typeof values.reason === 'string' ? { reason: values.reason } : {};
  if (values.list) {
    if (named.length || values.lift || values.before !== undefined || values.disable) {
      throw new UsageError('--list takes no target');
    }
    return { path: ADMIN_PATH, method: 'GET', describe: 'list' };
  }
  if (named.length !== 1) {
    throw new UsageError('name exactly one of --subject, --root, --jti, --session or --client');
  }
  const kind = named[0]!;
  const value = values[kind] as string;
  if (value === '') throw new UsageError(`--${kind} needs a value`);
  if ((values.before !== undefined || values.disable) && kind !== 'subject') {
    throw new UsageError('--before and --disable are for --subject');
  }
  if (values.lift) {
    if (kind !== 'subject' && kind !== 'client') throw new UsageError('--lift is for --subject or --client');
    if (values.before !== undefined || values.disable)
      throw new UsageError('--lift takes no --before or --disable');
    return {
      path: `${ADMIN_PATH}/lift`,
      method: 'POST',
      body: { [kind]: value, ...reason },
      describe: `${kind}:${value}`,
    };
  }
  if (values.before !== undefined && values.disable)
    throw new UsageError('--before and --disable exclude each other');
  const before =
    kind === 'subject' && !values.disable
      ? { before: instantOf((values.before as string | undefined) ?? 'now') }
      : {};
  return {
    path: ADMIN_PATH,
    method: 'POST',
    body: { [kind]: value, ...before, ...reason },
    describe: `${kind}:${value}`,
  };
}

/** An ISO 8601 instant, Unix seconds or `now`, as Unix seconds. */
function instantOf(text: string): number {
  // Tokens are stamped in whole seconds: "now" covers the token issued in this second too.
  if (text === 'now') return Math.floor(Date.now() / 1000) + 1;
  if (/^\d+$/.test(text)) return Number(text);
  const parsed = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(parsed)) {
    throw new UsageError('--before is an ISO 8601 instant (2026-01-31T12:00:00Z), Unix seconds, or now');
  }
  return Math.floor(parsed / 1000);
}

async function assertionSigner(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): Promise<(audience: string) => Promise<string>> {
  const clientId = (values['client-id'] as string | undefined) ?? env.BATON_ADMIN_CLIENT_ID;
  if (!clientId) throw new UsageError('give the admin client: --client-id ID or $BATON_ADMIN_CLIENT_ID');
  const keyFile =
    (values['private-key-file'] as string | undefined) ?? (env.BATON_ADMIN_PRIVATE_KEY_FILE || undefined);
  const secretFile = values['client-secret-file'] as string | undefined;
  const secretEnv = env.BATON_ADMIN_CLIENT_SECRET || undefined;
  if (keyFile && (secretFile || (secretEnv && values['private-key-file']))) {
    throw new UsageError('give a private key or a client secret, not both');
  }
  if (keyFile) {
    let jwk: JWK;
    try {
      jwk = JSON.parse(await readFile(keyFile, 'utf8')) as JWK;
    } catch (error) {
      throw new UsageError(
        `--private-key-file: cannot read a JWK from ${keyFile} (${(error as Error).message})`,
      );
    }
    if (!jwk.d) throw new UsageError('--private-key-file holds no private key');
    const credentials = await serviceCredentials(clientId, jwk);
    return (audience) => credentials.assertion(audience);
  }
  const secret = secretFile ? (await readFile(secretFile, 'utf8')).trim() : secretEnv;
  if (!secret) {
    throw new UsageError(
      'give the admin credentials: --private-key-file PATH ($BATON_ADMIN_PRIVATE_KEY_FILE) or --client-secret-file PATH ($BATON_ADMIN_CLIENT_SECRET)',
    );
  }
  const key = new TextEncoder().encode(secret);
  return (audience) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setJti(crypto.randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key);
  };
}

function printed(request: AdminRequest, body: Record<string, unknown>): string {
  if (request.describe === 'list') {
    const entries = Array.isArray(body.revocations) ? (body.revocations as Record<string, unknown>[]) : [];
    if (!entries.length) return 'no revocations in force\n';
    return entries
      .map((entry) => {
        const before =
          typeof entry.before === 'number' ? `  before ${new Date(entry.before * 1000).toISOString()}` : '';
        const state = entry.kind === 'subject' && before === '' ? '  disabled' : '';
        return `${String(entry.kind).padEnd(8)}  ${String(entry.value)}${before}${state}\n`;
      })
      .join('');
  }
  if (request.path.endsWith('/lift')) {
    return body.lifted
      ? `lifted ${request.describe}\n`
      : `nothing to lift: ${request.describe} was not revoked\n`;
  }
  const before = request.body?.before;
  const scope =
    typeof before === 'number'
      ? ` (tokens issued before ${new Date(before * 1000).toISOString()})`
      : request.describe.startsWith('subject:') || request.describe.startsWith('client:')
        ? ' (disabled until lifted)'
        : '';
  const covered = Number(body.covered);
  const receivers = Number(body.revocations);
  return (
    `revoked ${request.describe}${scope}: ${covered} unexpired token${covered === 1 ? '' : 's'} covered, ` +
    `${receivers} revocation${receivers === 1 ? '' : 's'} for receivers\n`
  );
}
