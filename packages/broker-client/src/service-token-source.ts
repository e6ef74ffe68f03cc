import type { ServiceCredentials, TlsClientCredentials } from './service-credentials.ts';
import { clientCredentialsToken, type TokenRequestOptions } from './token-request.ts';

export interface ServiceTokenSourceOptions {
  /** The audience the token is for (RFC 8707), e.g. the broker's `<issuer>/ssf` for a Shared Signals receiver. */
  resource: string;
  scope?: readonly string[];
  /** A token is renewed this many seconds before it expires. Default 30. */
  refreshSkewSeconds?: number;
  /** DPoP key, fetch or dispatcher (mutual TLS) for the token requests (see `TokenRequestOptions`). */
  transport?: TokenRequestOptions;
}

/**
 * The service's own access token for one audience (client credentials, `private_key_jwt`), kept until
 * shortly before it expires and renewed by one request however many callers ask at once. What a
 * Shared Signals receiver hands `connectRevocationFeed({ getAccessToken })`.
 *
 * @example
 * const getAccessToken = serviceTokenSource(broker, credentials, { resource: `${broker}/ssf` });
 * const { feed } = await connectRevocationFeed({ transmitter: broker, getAccessToken, delivery: 'poll', maxStalenessMs: 30_000 });
 */
export function serviceTokenSource(
  issuer: string,
  credentials: ServiceCredentials | TlsClientCredentials,
  options: ServiceTokenSourceOptions,
): () => Promise<string> {
  const skew = options.refreshSkewSeconds ?? 30;
  let current: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  return async () => {
    if (current && Date.now() < current.renewAt) return current.token;
    pending ??= clientCredentialsToken(
      issuer,
      credentials,
      { resource: options.resource, ...(options.scope ? { scope: options.scope } : {}) },
      options.transport,
    )
      .then((answer) => {
        const lifetime = Math.max(0, (answer.expires_in ?? 0) - skew);
        current = { token: answer.access_token, renewAt: Date.now() + lifetime * 1000 };
        return answer.access_token;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
