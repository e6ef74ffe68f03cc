/**
 * Where the registry checks revocations on every call: a copy of the durable revocations table, as
 * `<kind>:<value>` members (`jti:…`, `root:…`, `sub:…`). PostgreSQL deployments share one Redis set
 * (`RedisRevocationSet`); the embedded store, one process by construction, keeps it in the process
 * (`InProcessRevocationSet`). The table stays the record; the set is what makes checks cheap.
 */
export interface RevocationSet {
  /** Which of `members` are revoked; `undefined` when the set is not known complete and must be reloaded. */
  revokedAmong(members: readonly string[]): Promise<Set<string> | undefined>;
  add(member: string): Promise<void>;
  remove(members: readonly string[]): Promise<void>;
  /** Adds every durable revocation and marks the set complete; false when that could not be finished. */
  hydrate(load: () => Promise<readonly string[]>): Promise<boolean>;
}

/**
 * The embedded store's revocation set: a `Set` in this process, loaded from the revocations table
 * when the registry opens. Correct only while no other process writes the same tables, which the
 * embedded store guarantees by locking its data directory.
 */
export class InProcessRevocationSet implements RevocationSet {
  readonly #members = new Set<string>();
  #complete = false;

  async revokedAmong(members: readonly string[]): Promise<Set<string> | undefined> {
    if (!this.#complete) return undefined;
    return new Set(members.filter((member) => this.#members.has(member)));
  }

  async add(member: string): Promise<void> {
    this.#members.add(member);
  }

  async remove(members: readonly string[]): Promise<void> {
    for (const member of members) this.#members.delete(member);
  }

  async hydrate(load: () => Promise<readonly string[]>): Promise<boolean> {
    for (const member of await load()) this.#members.add(member);
    this.#complete = true;
    return true;
  }
}
