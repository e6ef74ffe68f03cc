/**
 * Input property names that look like "act for this person". A tool that takes one of these is
 * one prompt injection away from acting for someone else, so registering one must be a deliberate,
 * reviewable choice (`identityLikeInputAllowed`), and even then it never changes the envelope.
 */
const IDENTITY_LIKE = new Set([
  'user',
  'userid',
  'username',
  'sub',
  'subject',
  'actor',
  'principal',
  'tenant',
  'tenantid',
  'onbehalfof',
  'asuser',
  'impersonate',
  'runas',
  'identity',
  'accesstoken',
  'token',
  'authorization',
]);

function normalize(name: string): string {
  return name.toLowerCase().replace(/[^a-z]/g, '');
}

/** Top-level property names of a JSON Schema object that look like identity. */
export function identityLikeProperties(jsonSchema: unknown): string[] {
  const properties = (jsonSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (!properties || typeof properties !== 'object') return [];
  return Object.keys(properties).filter((name) => IDENTITY_LIKE.has(normalize(name)));
}
