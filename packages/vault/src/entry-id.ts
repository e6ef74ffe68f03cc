/**
 * Which cached token an entry holds, e.g. `{ namespace: 'obo', key: 'user-alice|agent-1|https://api|orders:read' }`.
 * The namespace separates kinds of token (on-behalf-of, platform, refresh...); the key is whatever the
 * caller uses to find the token again.
 */
export interface EntryId {
  readonly namespace: string;
  readonly key: string;
}

/** No `:` in a namespace, so `namespace:key` splits exactly one way and the canonical form is injective. */
const NAMESPACE = /^[a-z][a-z0-9_.-]{0,62}$/;
const MAX_KEY_LENGTH = 4096;
/** With the `u` flag a lone surrogate is its own code point: such a key has no UTF-8 form to bind. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * The one string an entry id is stored under and bound to as additional authenticated data. Two
 * different ids never share a canonical form (the namespace cannot contain the separator), and the
 * same id always gets the same one, so a record sealed for one id cannot be presented as another.
 * Ids are compared exactly: no case folding or Unicode normalisation, because two identities that
 * differ only there are still two identities.
 */
export function canonicalEntryId(id: EntryId): string {
  if (typeof id !== 'object' || id === null) {
    throw new TypeError('entryId must be an object { namespace, key }');
  }
  const { namespace, key } = id;
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw new TypeError(`entryId.namespace must match ${NAMESPACE}`);
  }
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_KEY_LENGTH ||
    LONE_SURROGATE.test(key)
  ) {
    throw new TypeError(
      `entryId.key must be a non-empty well-formed string of at most ${MAX_KEY_LENGTH} characters`,
    );
  }
  return `${namespace}:${key}`;
}
