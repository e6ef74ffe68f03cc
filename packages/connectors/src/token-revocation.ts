import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AuditSink,
  auditEventOf,
  createLogger,
  httpStatusReason,
  newSpanId,
  newTraceId,
  type PlatformRevocationReason,
} from '@baton/audit';
import type { Authenticator } from './client-authentication.ts';
import type { ConnectorUser, PlatformToken } from './connector.ts';

/** What a connector needs to revoke, at the platform, the tokens a Baton revocation dropped. */
export interface UpstreamRevocationOptions {
  /**
   * The platform's RFC 7009 revocation endpoint (its metadata's `revocation_endpoint`): every token a
   * followed revocation (`revocations`) drops from the cache is revoked there too, with the connector's
   * client authentication, best effort (a bounded retry) and audited. https, or http on loopback.
   * Default: none (the token is only dropped, and lapses at its own expiry).
   */
  revocationEndpoint?: string;
  /** Where each upstream revocation is recorded (`api.call`). Required with `revocationEndpoint`. */
  audit?: AuditSink;
  /** Told when an upstream revocation failed after its retries; never the token. Default: a Baton pino logger. */
  logger?: RevocationLogger;
}

/** The one logger call the revoker makes (a pino `Logger` is one). */
export interface RevocationLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** How often a revocation is tried, at most, and the first pause between tries (doubled each time). */
const ATTEMPTS = 3;
const FIRST_PAUSE_MS = 100;

export interface PlatformTokenRevokerOptions {
  connector: string;
  endpoint: string;
  authenticate: Authenticator;
  audit: AuditSink;
  logger: RevocationLogger | undefined;
  timeoutMs: number;
}

/** Revokes one platform token, for one user's cached scopes. Never throws: it audits and logs instead. */
export type PlatformTokenRevoker = (
  token: PlatformToken,
  entry: { user: ConnectorUser; scopes: readonly string[] },
) => Promise<void>;

/**
 * RFC 7009 §2.1: POSTs `token` and `token_type_hint=access_token` to the revocation endpoint with the
 * client's authentication. 200 is success (also for a token the platform no longer knows, §2.2); no
 * answer, a 5xx or a 429 is tried again (503 is §2.2.1's "try later"), up to three times; any other
 * answer is final. Each revocation writes one audit event; the token appears in no event, log or error.
 */
export function platformTokenRevoker(options: PlatformTokenRevokerOptions): PlatformTokenRevoker {
  const logger = options.logger ?? createLogger({ name: 'baton-connector' });
  return async (token, entry) => {
    const started = performance.now();
    let outcome: { ok: true } | { ok: false; reason: PlatformRevocationReason } = {
      ok: false,
      reason: 'revocation_endpoint_unreachable',
    };
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      outcome = await revokeOnce(options, token.accessToken);
      const retry =
        !outcome.ok &&
        (outcome.reason === 'revocation_endpoint_unreachable' ||
          outcome.reason === 'http_429' ||
          outcome.reason.startsWith('http_5') ||
          outcome.reason === 'http_server_error');
      if (!retry || attempt === ATTEMPTS) break;
      await sleep(FIRST_PAUSE_MS * 2 ** (attempt - 1));
    }
    if (!outcome.ok) {
      logger.warn(
        { connector: options.connector, reason: outcome.reason },
        'a revoked platform token could not be revoked at the platform; it lapses at its expiry',
      );
    }
    try {
      await options.audit.write(
        auditEventOf(
          {
            actor: entry.user,
            agent: options.connector,
            scopes: entry.scopes,
            // The connector calls the platform as itself (its client authentication).
            delegation: { mode: 'service_identity', chain: [options.connector] },
          },
          {
            action: 'api.call',
            component: options.connector,
            target: { type: 'api', name: 'token_revocation' },
            outcome: outcome.ok ? 'ok' : 'error',
            reason: outcome.ok ? undefined : outcome.reason,
            started,
            trace: { traceId: newTraceId(), spanId: newSpanId() },
          },
        ),
      );
    } catch {
      logger.warn({ connector: options.connector }, 'a platform token revocation could not be audited');
    }
  };
}

async function revokeOnce(
  options: PlatformTokenRevokerOptions,
  token: string,
): Promise<{ ok: true } | { ok: false; reason: PlatformRevocationReason }> {
  try {
    const authentication = await options.authenticate(Math.floor(Date.now() / 1000));
    const response = await fetch(options.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...authentication.headers,
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token', ...authentication.body }),
      // Never follow: a redirect would carry the token and the credentials elsewhere.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return response.status === 200 ? { ok: true } : { ok: false, reason: httpStatusReason(response.status) };
  } catch {
    return { ok: false, reason: 'revocation_endpoint_unreachable' };
  }
}
