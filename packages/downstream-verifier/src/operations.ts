import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BoundedLabel,
  Counter,
  createMetricsRegistry,
  type OperationsOptions,
  operationsHandler,
  type ReadinessCheck,
  type Registry,
  serveOperations,
} from '@baton/resource-server/operations';
import type { DownstreamVerifier } from './verify.ts';

/** The series `VerifierOperations` exports; documented in the package README. */
export const VERIFIER_SERIES = ['baton_verifier_verifications_total'] as const;

export interface VerifierOperationsOptions {
  /** What `/readyz` checks (your API's own stores). None: ready while it serves. */
  readiness?: readonly ReadinessCheck[];
  /** Deadline of one `/readyz` probe. Default 1500 ms. */
  readinessTimeoutMs?: number;
  /** How long one readiness probe answers `/readyz`, ms (concurrent requests share it). Default 1000. */
  readinessCacheMs?: number;
}

/**
 * Opt-in health, readiness and metrics for a downstream API. Nothing is counted unless you wrap your
 * verifier with `instrument`; the adapters (`withDownstreamIdentity`, `downstreamIdentity`) take the
 * wrapped verifier unchanged. One Prometheus registry per instance. Labels are the RFC 6750 error and
 * Baton's refusal reason, bounded: never a subject, client id or token.
 *
 * @example
 * const operations = new VerifierOperations();
 * const verifier = operations.instrument(downstreamVerifier({ audience, broker }));
 * app.use(async (req, res, next) => ((await operations.serve(req, res)) ? undefined : next()));
 * app.use(downstreamIdentity({ verifier }));
 */
export class VerifierOperations {
  readonly registry: Registry;
  readonly #verifications: Counter<'outcome' | 'error' | 'reason'>;
  readonly #label = new BoundedLabel([], 64);
  readonly #endpoints: OperationsOptions;
  readonly #fetch: (request: Request) => Promise<Response | undefined>;

  constructor(options: VerifierOperationsOptions = {}) {
    this.registry = createMetricsRegistry();
    this.#verifications = new Counter({
      name: 'baton_verifier_verifications_total',
      help: 'Calls verified, by outcome (ok, refused), RFC 6750 error and refusal reason',
      labelNames: ['outcome', 'error', 'reason'],
      registers: [this.registry],
    });
    this.#endpoints = {
      checks: options.readiness ?? [],
      registry: this.registry,
      ...(options.readinessTimeoutMs ? { readinessTimeoutMs: options.readinessTimeoutMs } : {}),
      ...(options.readinessCacheMs !== undefined ? { readinessCacheMs: options.readinessCacheMs } : {}),
    };
    this.#fetch = operationsHandler(this.#endpoints);
  }

  /** A verifier that counts every verification of `verifier` (same answers, same errors). */
  instrument(verifier: DownstreamVerifier): DownstreamVerifier {
    const count = this.#verifications;
    const label = this.#label;
    return {
      audience: verifier.audience,
      async verify(headers, requiredScopes) {
        try {
          const identity = await verifier.verify(headers, requiredScopes);
          count.inc({ outcome: 'ok', error: 'none', reason: 'none' });
          return identity;
        } catch (error) {
          const refusal = error as { error?: unknown; reason?: unknown };
          count.inc({
            outcome: 'refused',
            error: label.of(refusal?.error ?? 'other'),
            reason: label.of(refusal?.reason ?? 'other'),
          });
          throw error;
        }
      },
    };
  }

  /** Answers `/healthz`, `/readyz` and `/metrics`; `undefined` for any other path. */
  fetch(request: Request): Promise<Response | undefined> {
    return this.#fetch(request);
  }

  /** The same on node:http (Express): resolves `false` (writing nothing) for any other path. */
  serve(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    return serveOperations(request, response, this.#endpoints);
  }
}
