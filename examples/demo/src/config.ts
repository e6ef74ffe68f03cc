import { isWellFormedHost } from '@baton/resource-server';

/**
 * Where the demo listens. Defaults are fixed so a person can point another MCP client at them;
 * each can be overridden, and `0` picks a free port (the test suite does that).
 */
export interface DemoConfig {
  /** The address every server binds (`BATON_HOST`). */
  host: string;
  /**
   * The host name in every URL the demo advertises: issuers, resource URIs, metadata, the console
   * (`BATON_PUBLIC_HOST`). What clients must be able to reach. Default: the bind address, or
   * `127.0.0.1` when binding every interface (`0.0.0.0`, `::`), e.g. in a container whose ports are
   * published on the host's loopback.
   */
  publicHost: string;
  idpPort: number;
  ordersMcpPort: number;
  billingMcpPort: number;
  ordersApiPort: number;
  billingApiPort: number;
  brokerPort: number;
  consolePort: number;
  /** Run the walk-through and exit instead of serving until interrupted. */
  once: boolean;
  /**
   * Run as deployed (`BATON_SCALE_OUT=1`): two broker processes and two orders MCP server instances,
   * each pair behind a load balancer on the usual port, with state in PostgreSQL and Redis.
   */
  scaleOut?: ScaleOutConfig;
}

export interface ScaleOutConfig {
  /** The database for broker state and the audit trail (`BATON_POSTGRES_URL`); created if missing. */
  postgresUrl: string;
  /** Where the brokers keep revocations (`BATON_REDIS_URL`). */
  redisUrl: string;
  /** Prefix of the brokers' Redis keys (`BATON_REDIS_KEY_PREFIX`). */
  redisKeyPrefix: string;
}

export function demoConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
): DemoConfig {
  const host = env.BATON_HOST || '127.0.0.1';
  return {
    host,
    publicHost: publicHost(env.BATON_PUBLIC_HOST, host),
    idpPort: port(env.BATON_IDP_PORT, 4000, 'BATON_IDP_PORT'),
    ordersMcpPort: port(env.BATON_ORDERS_MCP_PORT, 4001, 'BATON_ORDERS_MCP_PORT'),
    billingMcpPort: port(env.BATON_BILLING_MCP_PORT, 4002, 'BATON_BILLING_MCP_PORT'),
    ordersApiPort: port(env.BATON_ORDERS_API_PORT, 4003, 'BATON_ORDERS_API_PORT'),
    billingApiPort: port(env.BATON_BILLING_API_PORT, 4004, 'BATON_BILLING_API_PORT'),
    brokerPort: port(env.BATON_BROKER_PORT, 4010, 'BATON_BROKER_PORT'),
    consolePort: port(env.BATON_CONSOLE_PORT, 4020, 'BATON_CONSOLE_PORT'),
    once: argv.includes('--once') || env.BATON_DEMO_ONCE === '1',
    ...(env.BATON_SCALE_OUT === '1'
      ? {
          scaleOut: {
            postgresUrl: env.BATON_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/baton_demo',
            redisUrl: env.BATON_REDIS_URL || 'redis://127.0.0.1:6379',
            redisKeyPrefix: env.BATON_REDIS_KEY_PREFIX || 'baton-demo:',
          },
        }
      : {}),
  };
}

/** The host to advertise when none is configured: the bind address, unless it means "every interface". */
export function defaultPublicHost(host: string): string {
  return isUnspecified(host) ? '127.0.0.1' : host;
}

/** Whether `host` is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return (
    bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare)
  );
}

/**
 * What to tell the person who binds the demo beyond loopback (stderr), or `undefined` on loopback.
 * The demo's defaults are for one machine: published passwords, an open registration token in memory,
 * every user's audit trail.
 */
export function exposureWarning(config: Pick<DemoConfig, 'host' | 'publicHost'>): string | undefined {
  if (isLoopback(config.host)) return undefined;
  const lines = [
    `baton demo: BATON_HOST=${config.host} binds every demo server beyond loopback. Anyone who can reach`,
    'this machine on those ports can use the identity provider (demo users with published passwords), the',
    "token broker, the orders and billing MCP servers and APIs, and the audit console (every user's traces).",
    `They advertise http://${bracketed(config.publicHost)}:<port> (BATON_PUBLIC_HOST). Bind 127.0.0.1 unless you mean it.`,
  ];
  if (!isLoopback(config.publicHost)) {
    lines.push(
      'MCP clients refuse plain-http token endpoints off loopback, so a client elsewhere needs TLS in front;',
      'the scripted walk-through is skipped for the same reason.',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `host` as it goes into a URL: IPv6 addresses in brackets. */
export function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function publicHost(value: string | undefined, host: string): string {
  if (value === undefined || value === '') return defaultPublicHost(host);
  const candidate = bracketed(value);
  const withPort = candidate.startsWith('[') && !candidate.endsWith(']');
  if (!isWellFormedHost(candidate) || withPort || isUnspecified(value)) {
    throw new TypeError(
      `BATON_PUBLIC_HOST must be a host name or address clients can reach, without scheme or port, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new TypeError(`${name} must be a port number (0 for any free port), got ${JSON.stringify(value)}`);
  }
  return parsed;
}
