import { BatonError } from '@baton/core';

/** Raised when a store operation outlives its deadline; callers treat it like any other store failure. */
export class StoreTimeoutError extends BatonError<'ERR_BROKER_STORE_TIMEOUT'> {
  override readonly name = 'StoreTimeoutError';
  constructor(operation: string, ms: number) {
    super('ERR_BROKER_STORE_TIMEOUT', `${operation} did not complete within ${ms} ms`);
  }
}

export const DEFAULT_OPERATION_TIMEOUT_MS = 2000;

/**
 * Bounds an operation in time. A pg pool waiting for a connection, or a caller-supplied Redis client
 * queueing commands while it reconnects, would otherwise leave a request hanging; failing closed means
 * rejecting promptly. The underlying work is not cancelled: a late write may still land.
 */
export function withDeadline<T>(operation: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(name, ms)), ms);
  });
  return Promise.race([operation, expired]).finally(() => clearTimeout(timer));
}

export function operationTimeoutOf(value: unknown): number {
  if (value === undefined) return DEFAULT_OPERATION_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError('operationTimeoutMs must be a positive integer');
  }
  return value;
}
