import {
  type IssuedToken,
  type LiftOptions,
  type LiftTarget,
  liftOf,
  type PresentedToken,
  presentedRefusal,
  type RegistryRefusal,
  type RegistryRevocation,
  type RevocationCoverage,
  type RevocationKindAtBroker,
  type RevocationLookup,
  type RevocationTarget,
  type TokenRegistry,
  type TokenStatus,
  targetOf,
  tokenStatus,
  widerBefore,
} from './token-registry.ts';

/** The memory registry: one process, nothing kept across a restart. Records are dropped after they expire. */
export class MemoryTokenRegistry implements TokenRegistry {
  readonly #tokens = new Map<string, IssuedToken>();
  /** `<kind>:<value>` for jti, root, session and client revocations. */
  readonly #revoked = new Set<string>();
  /** Subject → `before` (`Infinity`: disabled). */
  readonly #subjects = new Map<string, number>();
  readonly #lookup: RevocationLookup = {
    has: (kind, value) => this.#revoked.has(keyOf(kind, value)),
    subjectBefore: (subject) => this.#subjects.get(subject),
  };

  async record(token: IssuedToken): Promise<void> {
    this.#tokens.set(token.jti, token);
    if (this.#tokens.size % 1024 === 0) this.#sweep();
  }

  async find(jti: string): Promise<IssuedToken | undefined> {
    return this.#tokens.get(jti);
  }

  async revoke(target: RevocationTarget, now = Math.floor(Date.now() / 1000)): Promise<RevocationCoverage> {
    const { kind, value, before } = targetOf(target);
    if (kind === 'subject') {
      this.#subjects.set(value, widerBefore(this.#subjects.get(value), before ?? Number.POSITIVE_INFINITY));
    } else {
      this.#revoked.add(keyOf(kind, value));
    }
    return this.#coverage(kind, value, before, now);
  }

  async lift(target: LiftTarget, options: LiftOptions = {}): Promise<boolean> {
    const { kind, value } = liftOf(target);
    if (kind === 'subject' && options.before !== undefined) {
      if (this.#subjects.get(value) !== Number.POSITIVE_INFINITY) return false;
      this.#subjects.set(value, options.before);
      return true;
    }
    return kind === 'subject' ? this.#subjects.delete(value) : this.#revoked.delete(keyOf(kind, value));
  }

  async listRevocations(options: { tokens?: boolean } = {}): Promise<RegistryRevocation[]> {
    const listed: RegistryRevocation[] = [];
    for (const member of this.#revoked) {
      const colon = member.indexOf(':');
      const kind = member.slice(0, colon) as RevocationKindAtBroker;
      if (kind !== 'jti' || options.tokens) listed.push({ kind, value: member.slice(colon + 1) });
    }
    for (const [value, before] of this.#subjects) {
      listed.push({ kind: 'subject', value, ...(Number.isFinite(before) ? { before } : {}) });
    }
    return listed;
  }

  async isActive(jti: string, now: number): Promise<boolean> {
    return (await this.status(jti, now)).active;
  }

  async findActive(jti: string, now: number): Promise<IssuedToken | undefined> {
    const status = await this.status(jti, now);
    return status.active ? status.token : undefined;
  }

  status(jti: string, now: number, clients: readonly string[] = []): Promise<TokenStatus> {
    return tokenStatus(this, this.#lookup, jti, now, clients);
  }

  async refusalOf(token: PresentedToken): Promise<RegistryRefusal | undefined> {
    return presentedRefusal(this.#lookup, token);
  }

  async close(): Promise<void> {}

  /** Unexpired tokens the revocation matches, with everything exchanged from them. */
  #coverage(
    kind: RevocationKindAtBroker,
    value: string,
    before: number | undefined,
    now: number,
  ): RevocationCoverage {
    const matches = (token: IssuedToken): boolean => {
      switch (kind) {
        case 'jti':
          return token.jti === value;
        case 'root':
          return token.root === value;
        case 'subject':
          return token.subject === value && (before === undefined || (token.issuedAt ?? -1) < before);
        case 'session':
          return token.session === value;
        case 'client':
          return token.clientId === value;
      }
    };
    const tokens: { jti: string; exp: number }[] = [];
    for (const token of this.#tokens.values()) {
      if (token.exp <= now) continue;
      let current: IssuedToken | undefined = token;
      for (let hop = 0; current && hop < 32; hop++) {
        if (matches(current)) {
          tokens.push({ jti: token.jti, exp: token.exp });
          break;
        }
        current = current.parent === null ? undefined : this.#tokens.get(current.parent);
      }
    }
    return { covered: tokens.length, tokens: kind === 'jti' || kind === 'root' ? tokens : [] };
  }

  #sweep(): void {
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, token] of this.#tokens) if (token.exp <= now) this.#tokens.delete(jti);
  }
}

/** A revocation's member in a set: `<kind>:<value>`. */
export function keyOf(kind: Exclude<RevocationKindAtBroker, 'subject'>, value: string): string {
  return `${kind}:${value}`;
}
