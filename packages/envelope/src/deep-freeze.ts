/**
 * Freezes an object graph in place so that tool code cannot change whom it acts for mid-execution.
 * Envelopes are small plain-JSON trees, so a recursive walk is cheap.
 */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
