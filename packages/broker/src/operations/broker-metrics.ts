import type { AuditEvent, AuditSink } from '@baton/audit';
import {
  BoundedLabel,
  Counter,
  Histogram,
  type Registry,
  secondsSince,
} from '@baton/resource-server/operations';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** The series the broker exports; documented in the broker README. */
export const BROKER_SERIES = [
  'baton_broker_requests_total',
  'baton_broker_refusals_total',
  'baton_broker_decisions_total',
  'baton_broker_exchange_duration_seconds',
] as const;

const GRANT_TYPES = new BoundedLabel(
  ['urn:ietf:params:oauth:grant-type:token-exchange', 'client_credentials', 'none'],
  0,
);

/**
 * The broker's metrics on `registry`. Labels are route names, HTTP statuses, grant types, RFC errors
 * and audit reason codes, each bounded (see `BoundedLabel`): never a client id, subject or token.
 */
export class BrokerMetrics {
  readonly #requests: Counter<'route' | 'status'>;
  readonly #refusals: Counter<'route' | 'error'>;
  readonly #decisions: Counter<'action' | 'outcome' | 'reason'>;
  readonly #exchange: Histogram<'grant_type' | 'status'>;
  readonly #route = new BoundedLabel([], 32);
  readonly #error = new BoundedLabel([], 32);
  readonly #reason = new BoundedLabel([], 64);

  constructor(registry: Registry) {
    const registers = [registry];
    this.#requests = new Counter({
      name: 'baton_broker_requests_total',
      help: 'HTTP requests answered, by oidc-provider route and status',
      labelNames: ['route', 'status'],
      registers,
    });
    this.#refusals = new Counter({
      name: 'baton_broker_refusals_total',
      help: 'Requests refused with an OAuth error, by route and RFC error code',
      labelNames: ['route', 'error'],
      registers,
    });
    this.#decisions = new Counter({
      name: 'baton_broker_decisions_total',
      help: 'Audited decisions (token exchange, service identity), by action, outcome and audit reason code',
      labelNames: ['action', 'outcome', 'reason'],
      registers,
    });
    this.#exchange = new Histogram({
      name: 'baton_broker_exchange_duration_seconds',
      help: 'Token endpoint latency, by grant type and status',
      labelNames: ['grant_type', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  /** Koa middleware (`provider.use`) that counts requests and refusals and times the token endpoint. */
  middleware() {
    return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      const start = performance.now();
      try {
        await next();
      } finally {
        const route = this.#route.of(ctx.oidc?.route ?? 'other');
        const status = String(ctx.status);
        this.#requests.inc({ route, status });
        const error = (ctx.body as { error?: unknown } | undefined)?.error;
        if (ctx.status >= 400 && error !== undefined) {
          this.#refusals.inc({ route, error: this.#error.of(error) });
        }
        if (route === 'token') {
          const grantType = (ctx.oidc?.params as { grant_type?: unknown } | undefined)?.grant_type;
          this.#exchange.observe(
            { grant_type: GRANT_TYPES.of(grantType ?? 'none'), status },
            secondsSince(start),
          );
        }
      }
    };
  }

  /** Wraps the audit sink so that every audited decision is counted once it is written. */
  countingSink(sink: AuditSink): AuditSink {
    return {
      write: async (event: AuditEvent) => {
        await sink.write(event);
        this.#decisions.inc({
          action: this.#reason.of(event.action),
          outcome: this.#reason.of(event.outcome),
          reason: event.reason === undefined ? 'none' : this.#reason.of(event.reason),
        });
      },
    };
  }
}
