/** Whether two scope lists grant the same (order does not matter in OAuth scope strings). */
export function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((scope) => b.includes(scope));
}

/** Scopes as the space-separated string OAuth uses, or words for none (an empty string reads as missing data). */
export function scopeText(scopes: readonly string[]): string {
  return scopes.length > 0 ? scopes.join(' ') : 'no scopes';
}
