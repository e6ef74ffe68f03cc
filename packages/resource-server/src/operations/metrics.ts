import { Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A Prometheus registry of one component instance (never prom-client's global default registry), so
 * that two brokers, consoles or boundaries in one process keep their own series.
 *
 * @example
 * const registry = createMetricsRegistry();
 * const requests = new Counter({ name: 'x_requests_total', help: '…', registers: [registry] });
 */
export function createMetricsRegistry(): Registry {
  return new Registry();
}

const LABEL_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Keeps a label's value set bounded: values from `known` pass; other well-formed values pass until
 * `max` distinct ones were seen; everything else (and anything shaped like free text) is `other`.
 * Callers feed it reason codes and route names, never identities or tokens.
 *
 * @example
 * const reason = new BoundedLabel(['invalid_grant', 'invalid_target']);
 * refusals.inc({ reason: reason.of(error.error) });
 */
export class BoundedLabel {
  readonly #seen: Set<string>;
  readonly #max: number;

  constructor(known: Iterable<string> = [], max = 64) {
    this.#seen = new Set(known);
    this.#max = this.#seen.size + max;
  }

  of(value: unknown): string {
    if (typeof value !== 'string' || !LABEL_VALUE.test(value)) return 'other';
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return 'other';
    this.#seen.add(value);
    return value;
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
