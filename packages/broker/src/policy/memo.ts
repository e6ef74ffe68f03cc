import type { ExchangeFacts } from './facts.ts';
import { type ContextAttribute, contextValue } from './request-model.ts';

/**
 * A size-capped map. Exchanges repeat (the same agent calling the same tool for the same user), and
 * a hit skips the trip into wasm. When full, the oldest entry goes: insertion order is what a `Map`
 * keeps for free, and an exact LRU would cost a delete and re-insert on every hit.
 */
export class BoundedMemo<V> {
  readonly capacity: number;
  #entries = new Map<string, V>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new TypeError('BoundedMemo: capacity must be a non-negative integer');
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.capacity === 0) return;
    if (this.#entries.size >= this.capacity && !this.#entries.has(key)) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }
}

/**
 * Builds the memo key for one scope's question: everything that reaches Cedar and that some rule can
 * read: client, audience and the context attributes `read` names (see `contextAttributesRead`).
 */
export function memoKeyFor(
  read: readonly ContextAttribute[],
): (facts: ExchangeFacts, scope: string) => string {
  return (facts, scope) =>
    JSON.stringify([
      facts.client,
      facts.audience,
      ...read.map((attribute) => contextValue(facts, scope, attribute)),
    ]);
}
