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
