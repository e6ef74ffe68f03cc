import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type ConsoleAuthOptions,
  NO_SIGN_IN_BEHIND_TRUSTED_PROXY,
  type StartConsoleOptions,
} from '@baton/console';
import { AUDIT_OPTIONS } from './audit-command.ts';

export const CONSOLE_USAGE = `usage:
  baton console --issuer URL --client-id ID (--client-secret-file PATH | --public-client) [options] [store options]
  baton console --unauthenticated-behind-trusted-proxy [options] [store options]
sign-in (OpenID provider, authorization code + PKCE):
  --issuer URL                 the provider's issuer                      (or $BATON_CONSOLE_ISSUER)
  --client-id ID               the console's client id there              (or $BATON_CONSOLE_CLIENT_ID)
  --client-secret-file PATH    its client secret, read from a file        (or $BATON_CONSOLE_CLIENT_SECRET)
  --public-client              no secret: the provider registered the console as a public client
  --public-url URL             where browsers reach the console; the redirect URI is <public-url>auth/callback
                               (default http://<host>:<port>/ on loopback)
  --permission SCOPE           the scope an auditor holds (default audit:read)
  --all-tenants-permission S   a scope that lets its holder read every tenant (default: none)
  --tenant-claim NAME          the access token claim naming the auditor's tenant (default tenant)
  --session-ttl SECONDS        session lifetime (default 3600)
other:
  --host HOST --port N         where to listen (default 127.0.0.1:4020)
  --allowed-host NAME          a Host name to answer to, repeatable (default: the public URL's)
  --unauthenticated-behind-trusted-proxy
                               no sign-in at all, every tenant visible: only where nothing but a proxy
                               that authenticates every request can reach the console
`;

export const CONSOLE_OPTIONS = {
  ...AUDIT_OPTIONS,
  host: { type: 'string' },
  port: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret-file': { type: 'string' },
  'public-client': { type: 'boolean' },
  'public-url': { type: 'string' },
  permission: { type: 'string' },
  'all-tenants-permission': { type: 'string' },
  'tenant-claim': { type: 'string' },
  'session-ttl': { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
  'unauthenticated-behind-trusted-proxy': { type: 'boolean' },
} as const;

/** Everything `baton console` needs besides the reader, from its flags and environment. */
export interface ConsoleCommandOptions extends Omit<StartConsoleOptions, 'reader'> {
  host: string;
  port: number;
  store: string | undefined;
  postgres: string | undefined;
}

/**
 * Maps `baton console` flags onto console options. Refuses to go on without sign-in settings unless
 * the opt-out is named; the client secret is never a flag value (it would show in the process list).
 */
export async function consoleCommandOptions(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConsoleCommandOptions> {
  const { values } = parseArgs({ args: [...args], options: CONSOLE_OPTIONS });
  const host = values.host ?? '127.0.0.1';
  const port = Number(values.port ?? 4020);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a port number');
  const common = {
    host,
    port,
    store: values.store,
    postgres: values.postgres,
    ...(values['allowed-host'] ? { allowedHostnames: values['allowed-host'] } : {}),
  };
  const issuer = values.issuer ?? env.BATON_CONSOLE_ISSUER;
  const clientId = values['client-id'] ?? env.BATON_CONSOLE_CLIENT_ID;
  if (values['unauthenticated-behind-trusted-proxy']) {
    if (issuer || clientId)
      throw new Error(
        '--unauthenticated-behind-trusted-proxy turns sign-in off: give it without --issuer and --client-id',
      );
    return { ...common, auth: NO_SIGN_IN_BEHIND_TRUSTED_PROXY };
  }
  if (!issuer || !clientId) {
    throw new Error(
      'baton console needs sign-in: --issuer and --client-id (and --client-secret-file or --public-client), ' +
        'or, only behind a proxy that authenticates every request, --unauthenticated-behind-trusted-proxy',
    );
  }
  const clientSecret = await secretFrom(values['client-secret-file'], env.BATON_CONSOLE_CLIENT_SECRET);
  if (clientSecret === undefined && !values['public-client'])
    throw new Error(
      'give the console client secret (--client-secret-file or $BATON_CONSOLE_CLIENT_SECRET), or --public-client',
    );
  if (clientSecret !== undefined && values['public-client'])
    throw new Error('--public-client and a client secret exclude each other');
  const publicUrl = values['public-url'] ?? loopbackUrl(host, port);
  const sessionTtl = values['session-ttl'] === undefined ? undefined : Number(values['session-ttl']);
  const auth: ConsoleAuthOptions = {
    issuer,
    clientId,
    ...(clientSecret !== undefined ? { clientSecret } : {}),
    redirectUri: new URL('auth/callback', publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`).href,
    permission: values.permission ?? 'audit:read',
    ...(values['all-tenants-permission'] ? { allTenantsPermission: values['all-tenants-permission'] } : {}),
    ...(values['tenant-claim'] ? { tenantClaim: values['tenant-claim'] } : {}),
    ...(sessionTtl !== undefined ? { sessionTtlSeconds: sessionTtl } : {}),
  };
  return { ...common, auth };
}

async function secretFrom(
  file: string | undefined,
  fromEnv: string | undefined,
): Promise<string | undefined> {
  if (file !== undefined) {
    const secret = (await readFile(file, 'utf8')).trim();
    if (secret === '') throw new Error('--client-secret-file is empty');
    return secret;
  }
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/** `http://127.0.0.1:4020/` for a console on loopback; elsewhere the public URL must be given. */
function loopbackUrl(host: string, port: number): string {
  if (!['127.0.0.1', 'localhost', '::1'].includes(host) || port === 0)
    throw new Error(
      'give --public-url: where browsers reach the console (its redirect URI is derived from it)',
    );
  return `http://${host === '::1' ? '[::1]' : host}:${port}/`;
}
