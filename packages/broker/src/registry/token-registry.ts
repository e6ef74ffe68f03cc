/**
 * Every token the broker issues, with where it came from, so that revocation cascades: revoking a
 * token, its root grant, or its subject makes it and everything derived from it inactive.
 */
export interface IssuedToken {
  jti: string;
  /** The broker-issued token this one was exchanged from; `null` when the subject came from an IdP. */
  parent: string | null;
  /** The root grant: the identity-provider token at the start of the chain (`<iss>#<jti>`). */
  root: string;
  /** `sub` of the token: the person the whole chain acts for. */
  subject: string;
  clientId: string;
  audience: string;
  /** Unix seconds. */
  exp: number;
}

export type RevocationTarget = { jti: string } | { root: string } | { subject: string };

/**
 * Where issued-token records and revocations live. The embedded default keeps them durably in one
 * process (PGlite, `openStores({ kind: 'embedded' })`); production deployments share one across broker
 * instances (PostgreSQL for records, Redis for revocation sets), so a revocation on one instance is seen
 * by all at once; `MemoryTokenRegistry` forgets everything on restart (tests, the demo).
 */
export interface TokenRegistry {
  record(token: IssuedToken): Promise<void>;
  find(jti: string): Promise<IssuedToken | undefined>;
  revoke(target: RevocationTarget): Promise<void>;
  /**
   * Whether `jti` is known, unexpired, and neither it, any ancestor, its root nor its subject is revoked.
   * `now` in Unix seconds.
   */
  isActive(jti: string, now: number): Promise<boolean>;
  /**
   * The record of `jti` when it is active (as `isActive` decides), in the same lookup; `undefined`
   * otherwise. The exchange reads a broker-issued subject token's root grant this way.
   */
  findActive(jti: string, now: number): Promise<IssuedToken | undefined>;
  close(): Promise<void>;
}

/** The ancestor walk shared by registries: bounded, because chains are bounded by policy. */
export async function chainIsActive(
  registry: Pick<TokenRegistry, 'find'>,
  revoked: (target: RevocationTarget) => Promise<boolean> | boolean,
  jti: string,
  now: number,
  maxHops = 32,
): Promise<boolean> {
  return (await activeRecord(registry, revoked, jti, now, maxHops)) !== undefined;
}

/** The record of `jti` when the ancestor walk finds it active, else `undefined`. */
export async function activeRecord(
  registry: Pick<TokenRegistry, 'find'>,
  revoked: (target: RevocationTarget) => Promise<boolean> | boolean,
  jti: string,
  now: number,
  maxHops = 32,
): Promise<IssuedToken | undefined> {
  const first = await registry.find(jti);
  if (!first || first.exp <= now) return undefined;
  if ((await revoked({ root: first.root })) || (await revoked({ subject: first.subject }))) return undefined;
  let current: IssuedToken | undefined = first;
  for (let hop = 0; current && hop < maxHops; hop++) {
    if (await revoked({ jti: current.jti })) return undefined;
    if (current.parent === null) return first;
    current = await registry.find(current.parent);
  }
  // A missing ancestor (expired and forgotten) cannot vouch for its descendants.
  return undefined;
}
