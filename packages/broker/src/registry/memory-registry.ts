import {
  activeRecord,
  chainIsActive,
  type IssuedToken,
  type RevocationTarget,
  type TokenRegistry,
} from './token-registry.ts';

/** The memory registry: one process, nothing kept across a restart. Records are dropped after they expire. */
export class MemoryTokenRegistry implements TokenRegistry {
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #revoked = new Set<string>();

  async record(token: IssuedToken): Promise<void> {
    this.#tokens.set(token.jti, token);
    if (this.#tokens.size % 1024 === 0) this.#sweep();
  }

  async find(jti: string): Promise<IssuedToken | undefined> {
    return this.#tokens.get(jti);
  }

  async revoke(target: RevocationTarget): Promise<void> {
    this.#revoked.add(keyOf(target));
  }

  async isActive(jti: string, now: number): Promise<boolean> {
    return chainIsActive(this, (target) => this.#revoked.has(keyOf(target)), jti, now);
  }

  async findActive(jti: string, now: number): Promise<IssuedToken | undefined> {
    return activeRecord(this, (target) => this.#revoked.has(keyOf(target)), jti, now);
  }

  async close(): Promise<void> {}

  #sweep(): void {
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, token] of this.#tokens) if (token.exp <= now) this.#tokens.delete(jti);
  }
}

export function keyOf(target: RevocationTarget): string {
  if ('jti' in target) return `jti:${target.jti}`;
  if ('root' in target) return `root:${target.root}`;
  return `sub:${target.subject}`;
}
