import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { type ClientTlsOptionsInit, clientTlsOptions } from './tls-options.ts';

export interface MutualTlsDispatcherInit extends ClientTlsOptionsInit {
  /**
   * TLS sessions kept for resumption, per origin (undici's `maxCachedSessions`). Default 100; `0`
   * makes every new connection a full handshake.
   */
  maxCachedSessions?: number;
  /** Idle keep-alive time of a pooled connection, in milliseconds (undici's `keepAliveTimeout`). */
  keepAliveTimeout?: number;
}

/**
 * A fetch dispatcher (an `undici` `Agent`) that presents `identity` and trusts only `ca`: pass it as
 * `fetch(url, { dispatcher })`. Node's global `fetch` (Node 22 and 24) takes a dispatcher of the
 * `undici` package this one depends on. With `serverSpiffeId`, only a server whose certificate names that
 * SPIFFE ID is reached: pin one dispatcher per destination. Connections are pooled and kept alive; close it
 * (`await dispatcher.close()`) when done.
 *
 * @example
 * const dispatcher = mutualTlsDispatcher({ identity, ca: ca.certificatePem });
 * const response = await fetch('https://localhost:8443/orders', { dispatcher });
 */
export function mutualTlsDispatcher(init: MutualTlsDispatcherInit): Agent {
  const tls = clientTlsOptions(init);
  return new (undici().Agent)({
    connect: {
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
      ca: tls.ca,
      secureContext: tls.secureContext,
      rejectUnauthorized: true,
      minVersion: tls.minVersion,
      ...(tls.checkServerIdentity ? { checkServerIdentity: tls.checkServerIdentity } : {}),
      ...(init.maxCachedSessions !== undefined ? { maxCachedSessions: init.maxCachedSessions } : {}),
    },
    ...(init.keepAliveTimeout !== undefined ? { keepAliveTimeout: init.keepAliveTimeout } : {}),
  });
}

export interface PinnedMutualTlsDispatcherInit extends Omit<MutualTlsDispatcherInit, 'serverSpiffeId'> {
  /**
   * The SPIFFE ID each https origin's server must name, by origin (`https://broker.internal:8443`).
   * Read on every request, so a `Map` may be filled in later. An https origin not listed is refused;
   * plain `http:` origins (no certificate to pin) go over an unpinned pool.
   */
  servers: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
}

/** A fetch dispatcher routing each request to a pool pinned to its origin's SPIFFE ID. */
export interface PinnedMutualTlsDispatcher {
  dispatch: Agent['dispatch'];
  close(): Promise<void>;
}

/**
 * One dispatcher for a workload that calls several others (the broker, APIs, MCP servers): each request
 * goes over a `mutualTlsDispatcher` pinned with `serverSpiffeId` to the SPIFFE ID `servers` names for
 * its origin, made on first use. A host name check cannot tell the destinations apart when their
 * certificates name the same host; a port cannot be pinned inside the TLS check, hence one pool per
 * destination. An https origin not in `servers` is refused before any connection.
 *
 * @example
 * const dispatcher = pinnedMutualTlsDispatcher({ identity, ca: ca.certificatePem, servers: {
 *   'https://broker.internal:8443': 'spiffe://baton.test/broker',
 *   'https://orders.internal:8443': 'spiffe://baton.test/orders-api',
 * } });
 */
export function pinnedMutualTlsDispatcher(init: PinnedMutualTlsDispatcherInit): PinnedMutualTlsDispatcher {
  const { servers, ...common } = init;
  const spiffeIdOf = (origin: string): string | undefined =>
    servers instanceof Map
      ? servers.get(origin)
      : Object.hasOwn(servers, origin)
        ? (servers as Record<string, string>)[origin]
        : undefined;
  // Checked now: a bad anchor or identity fails at construction, not on the first request.
  clientTlsOptions(common);
  const pools = new Map<string, Agent>();
  const poolFor = (origin: unknown): Agent => {
    const url = new URL(String(origin));
    const expected = spiffeIdOf(url.origin);
    if (expected === undefined && url.protocol !== 'http:') {
      throw Object.assign(new Error(`no server SPIFFE ID is pinned for ${url.origin}`), {
        code: 'ERR_TLS_SERVER_NOT_PINNED',
      });
    }
    const key = expected ?? '';
    let pool = pools.get(key);
    if (!pool) {
      pool = mutualTlsDispatcher({
        ...common,
        ...(expected !== undefined ? { serverSpiffeId: expected } : {}),
      });
      pools.set(key, pool);
    }
    return pool;
  };
  return {
    dispatch: ((options, handler) => poolFor(options.origin).dispatch(options, handler)) as Agent['dispatch'],
    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}

let loaded: typeof import('undici') | undefined;

/**
 * `undici`, loaded on first use: it takes longer to load than the rest of this package together, and a
 * server that only reads client certificates (`@baton/resource-server/node`) never needs it. A CommonJS
 * package, so `require` gives the very module an `import` would.
 */
function undici(): typeof import('undici') {
  loaded ??= createRequire(import.meta.url)('undici') as typeof import('undici');
  return loaded;
}
