import type { AccessTokenClaims } from '@baton/resource-server';

/**
 * Freezes validated claims in place, all the way down (an already frozen object is still walked:
 * a frozen parent says nothing about its children). The request context that carries them is
 * readable by any code the SDK calls, which must not be able to change whom a request is for.
 */
export function frozenClaims(claims: AccessTokenClaims): AccessTokenClaims {
  freeze(claims, new WeakSet());
  return claims;
}

function freeze(value: unknown, seen: WeakSet<object>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  for (const child of Object.values(value)) freeze(child, seen);
  Object.freeze(value);
}
