import type { ConnectorUser } from './connector.ts';

/**
 * Which platform identity a Baton user acts as (for Salesforce: the username). A function can consult a
 * directory and may use the tenant; a Map or plain object is keyed by the Baton `sub`. Returning
 * `undefined`/`null` (or a missing key) means the user has no platform identity.
 */
export type IdentityMapping =
  | ((user: ConnectorUser) => string | null | undefined | Promise<string | null | undefined>)
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>;

/** Normalises the three forms to one lookup that answers a non-empty identity or `undefined`. */
export function identityResolver(
  mapping: IdentityMapping,
): (user: ConnectorUser) => Promise<string | undefined> {
  if (typeof mapping === 'function') {
    return async (user) => nonEmpty(await mapping(user));
  }
  if (mapping instanceof Map) {
    return async (user) => nonEmpty(mapping.get(user.sub));
  }
  if (typeof mapping === 'object' && mapping !== null) {
    const record = mapping as Readonly<Record<string, string>>;
    // Own keys only: a subject named "constructor" or "__proto__" must not find Object.prototype's.
    return async (user) => nonEmpty(Object.hasOwn(record, user.sub) ? record[user.sub] : undefined);
  }
  throw new TypeError('identityMapping is required: a function, a Map or an object keyed by Baton subject');
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
