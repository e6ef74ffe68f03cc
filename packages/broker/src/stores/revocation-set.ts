/**
 * Where the registry checks revocations on every call: a copy of the durable revocations table. Token,
 * grant, session and client revocations are `<kind>:<value>` members (`jti:…`, `root:…`, `session:…`,
 * `client:…`); subject revocations map the subject to the instant before which its tokens are refused
 * (`Infinity`: disabled). PostgreSQL deployments share them in Redis (`RedisRevocationSet`); the
 * embedded store, one process by construction, keeps them in the process (`InProcessRevocationSet`).
 * The table stays the record; the set is what makes checks cheap.
 */
export interface RevocationSet {
  /**
   * Which of `members` are revoked and the `before` of each of `subjects` that is; `undefined` when
   * the set is not known complete and must be reloaded.
   */
  revokedAmong(
    members: readonly string[],
    subjects: readonly string[],
  ): Promise<RevocationSnapshot | undefined>;
  add(member: string): Promise<void>;
  /** Revokes a subject's tokens before `before` (`Infinity`: all), widening what is held, never narrowing it. */
  addSubject(subject: string, before: number): Promise<void>;
  remove(members: readonly string[]): Promise<void>;
  removeSubject(subject: string): Promise<void>;
  /** Replaces what is held for a subject by a cut-off (a lifted disable: its earlier tokens stay refused). */
  setSubject(subject: string, before: number): Promise<void>;
  /** Adds every durable revocation and marks the set complete; false when that could not be finished. */
  hydrate(load: () => Promise<DurableRevocations>): Promise<boolean>;
}

export interface RevocationSnapshot {
  members: ReadonlySet<string>;
  /** Subject → `before` (`Infinity`: disabled), for the subjects asked about that are revoked. */
  subjects: ReadonlyMap<string, number>;
}

export interface DurableRevocations {
  members: readonly string[];
  subjects: ReadonlyArray<readonly [subject: string, before: number]>;
}

/**
 * The embedded store's revocation set: in this process, loaded from the revocations table when the
 * registry opens. Correct only while no other process writes the same tables, which the embedded
 * store guarantees by locking its data directory.
 */
export class InProcessRevocationSet implements RevocationSet {
  readonly #members = new Set<string>();
  readonly #subjects = new Map<string, number>();
  #complete = false;

  async revokedAmong(
    members: readonly string[],
    subjects: readonly string[],
  ): Promise<RevocationSnapshot | undefined> {
    if (!this.#complete) return undefined;
    const before = new Map<string, number>();
    for (const subject of subjects) {
      const held = this.#subjects.get(subject);
      if (held !== undefined) before.set(subject, held);
    }
    return { members: new Set(members.filter((member) => this.#members.has(member))), subjects: before };
  }

  async add(member: string): Promise<void> {
    this.#members.add(member);
  }

  async addSubject(subject: string, before: number): Promise<void> {
    this.#subjects.set(subject, Math.max(before, this.#subjects.get(subject) ?? Number.NEGATIVE_INFINITY));
  }

  async remove(members: readonly string[]): Promise<void> {
    for (const member of members) this.#members.delete(member);
  }

  async removeSubject(subject: string): Promise<void> {
    this.#subjects.delete(subject);
  }

  async setSubject(subject: string, before: number): Promise<void> {
    this.#subjects.set(subject, before);
  }

  async hydrate(load: () => Promise<DurableRevocations>): Promise<boolean> {
    const durable = await load();
    for (const member of durable.members) this.#members.add(member);
    for (const [subject, before] of durable.subjects) await this.addSubject(subject, before);
    this.#complete = true;
    return true;
  }
}
