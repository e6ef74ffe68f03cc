import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEvent, AuditSink } from '@baton/audit';
import {
  type AuditOutboxSource,
  auditOutboxMetrics,
  BoundedLabel,
  Counter,
  createMetricsRegistry,
  type OperationsOptions,
  operationsHandler,
  type ReadinessCheck,
  type Registry,
  serveOperations,
} from '@baton/resource-server/operations';
import type { TokenCacheLookup } from './downstream/token-cache.ts';

/** The series a boundary's `BoundaryOperations` exports; documented in the package README. */
export const BOUNDARY_SERIES = [
  'baton_boundary_decisions_total',
  'baton_boundary_token_cache_lookups_total',
  'baton_boundary_verified_token_lookups_total',
] as const;

export interface BoundaryOperationsOptions {
  /** What `/readyz` checks: `envelopeKeysCheck(envelopes)`, a store's ping. */
  readiness?: readonly ReadinessCheck[];
  /** An audit store with an outbox (`PostgresAuditStore`): its depth and lag become series too. */
  auditOutbox?: AuditOutboxSource;
  /** Deadline of one `/readyz` probe. Default 1500 ms. */
  readinessTimeoutMs?: number;
  /** How long one readiness probe answers `/readyz`, ms (concurrent requests share it). Default 1000. */
  readinessCacheMs?: number;
}

/**
 * Opt-in health, readiness and metrics for one `IdentityBoundary` (it mounts into your server, so
 * nothing is served or counted unless you create this and pass it as the boundary's `operations`).
 * It has its own Prometheus registry. Labels are audit actions, outcomes and reason codes and the
 * token cache's answer, each bounded: never a subject, client id, tool argument or token.
 *
 * @example
 * const operations = new BoundaryOperations({ readiness: [envelopeKeysCheck(envelopes)] });
 * const boundary = new IdentityBoundary({ ...options, operations });
 * // node:http: if (!(await operations.serve(req, res))) handleMcp(req, res);
 * // fetch:     (await operations.fetch(request)) ?? boundary.fetch(request, handler)
 */
export class BoundaryOperations {
  /** This boundary's registry: what `/metrics` serves. */
  readonly registry: Registry;
  readonly #decisions: Counter<'action' | 'outcome' | 'reason'>;
  readonly #cache: Counter<'cache' | 'result'>;
  readonly #label = new BoundedLabel([], 64);
  readonly #endpoints: OperationsOptions;
  readonly #fetch: (request: Request) => Promise<Response | undefined>;
  #verifiedTokens = false;

  constructor(options: BoundaryOperationsOptions = {}) {
    this.registry = createMetricsRegistry();
    const registers = [this.registry];
    this.#decisions = new Counter({
      name: 'baton_boundary_decisions_total',
      help: 'Audited boundary decisions (tool invocations, refusals), by action, outcome and audit reason code',
      labelNames: ['action', 'outcome', 'reason'],
      registers,
    });
    this.#cache = new Counter({
      name: 'baton_boundary_token_cache_lookups_total',
      help: 'Downstream token cache lookups, by cache (service, delegated) and result (hit, joined, shared_hit, miss)',
      labelNames: ['cache', 'result'],
      registers,
    });
    if (options.auditOutbox) auditOutboxMetrics(this.registry, options.auditOutbox);
    this.#endpoints = {
      checks: options.readiness ?? [],
      registry: this.registry,
      ...(options.readinessTimeoutMs ? { readinessTimeoutMs: options.readinessTimeoutMs } : {}),
      ...(options.readinessCacheMs !== undefined ? { readinessCacheMs: options.readinessCacheMs } : {}),
    };
    this.#fetch = operationsHandler(this.#endpoints);
  }

  /** Answers `/healthz`, `/readyz` and `/metrics`; `undefined` for any other path. */
  fetch(request: Request): Promise<Response | undefined> {
    return this.#fetch(request);
  }

  /** The same on node:http: resolves `false` (writing nothing) for any other path. */
  serve(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    return serveOperations(request, response, this.#endpoints);
  }

  /** The audit sink the boundary writes to, counting each decision once it is written. */
  countAudit(sink: AuditSink): AuditSink {
    return {
      write: async (event: AuditEvent) => {
        await sink.write(event);
        this.#decisions.inc({
          action: this.#label.of(event.action),
          outcome: this.#label.of(event.outcome),
          reason: event.reason === undefined ? 'none' : this.#label.of(event.reason),
        });
      },
    };
  }

  /**
   * Reports the boundary's verified-token cache (`jwtAccessTokenVerifier`'s `cache`) as
   * `baton_boundary_verified_token_lookups_total{result="hit"|"miss"}`. The boundary calls it with its
   * token verifier's cache; once per boundary.
   */
  observeVerifiedTokenCache(cache: {
    readonly lookups: { readonly hits: number; readonly misses: number };
  }): void {
    if (this.#verifiedTokens) return;
    this.#verifiedTokens = true;
    new Counter({
      name: 'baton_boundary_verified_token_lookups_total',
      help: 'Bearer token verifications, by result: hit (a verification held until the token expires) or miss (verified in full)',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        // Read at scrape time: nothing is counted on the request path beyond the cache's own two integers.
        const { hits, misses } = cache.lookups;
        this.reset();
        this.inc({ result: 'hit' }, hits);
        this.inc({ result: 'miss' }, misses);
      },
    });
  }

  /** The hook a downstream token cache reports its lookups to. */
  tokenCacheLookup(cache: 'service' | 'delegated'): (result: TokenCacheLookup) => void {
    return (result) => this.#cache.inc({ cache, result });
  }
}

/**
 * Ready once the envelope issuer has a signing key to publish, and while its keys are healthy: shared
 * keys (`SharedEnvelopeKeys`) whose file keeps failing to re-read stop signing and fail readiness
 * (`KEYS_UNAVAILABLE`), so the load balancer takes the instance out rather than it failing every call.
 *
 * @example
 * new BoundaryOperations({ readiness: [envelopeKeysCheck(envelopes)] });
 */
export function envelopeKeysCheck(envelopes: {
  jwks(): { keys: readonly unknown[] };
  readonly healthy?: boolean;
}): ReadinessCheck {
  return {
    name: 'envelope_keys',
    check: () => {
      if (envelopes.jwks().keys.length === 0) {
        throw Object.assign(new Error('no envelope signing key'), { code: 'NO_KEYS' });
      }
      if (envelopes.healthy === false) {
        throw Object.assign(new Error('envelope keys cannot be re-read'), { code: 'KEYS_UNAVAILABLE' });
      }
    },
  };
}
