import { randomUUID } from 'node:crypto';
import {
  type ScimRecord,
  type ScimResourceType,
  type ScimStore,
  ScimUniquenessConflict,
  uniqueKeys,
} from './scim-store.ts';

/**
 * SCIM users and groups in this process only, forgotten on restart (tests, the demo).
 *
 * @example
 * startBroker({ …, scim: { store: new MemoryScimStore(), … } });
 */
export class MemoryScimStore implements ScimStore {
  readonly #records: Record<ScimResourceType, Map<string, ScimRecord>> = {
    User: new Map(),
    Group: new Map(),
  };

  async get(type: ScimResourceType, id: string): Promise<ScimRecord | undefined> {
    return copy(this.#records[type].get(id));
  }

  async list(type: ScimResourceType): Promise<ScimRecord[]> {
    return [...this.#records[type].values()].map((record) => copy(record)!);
  }

  async create(type: ScimResourceType, attributes: Record<string, unknown>): Promise<ScimRecord> {
    this.#checkUnique(type, attributes, undefined);
    const now = new Date();
    const record = { id: randomUUID(), version: 1, created: now, lastModified: now, attributes };
    this.#records[type].set(record.id, structuredClone(record));
    return copy(record)!;
  }

  async replace(
    type: ScimResourceType,
    id: string,
    attributes: Record<string, unknown>,
    expectedVersion: number,
  ): Promise<ScimRecord | undefined> {
    const held = this.#records[type].get(id);
    if (!held || held.version !== expectedVersion) return undefined;
    this.#checkUnique(type, attributes, id);
    const record = { ...held, version: held.version + 1, lastModified: new Date(), attributes };
    this.#records[type].set(id, structuredClone(record));
    return copy(record);
  }

  async delete(type: ScimResourceType, id: string, expectedVersion: number): Promise<boolean> {
    const held = this.#records[type].get(id);
    if (!held || held.version !== expectedVersion) return false;
    return this.#records[type].delete(id);
  }

  #checkUnique(type: ScimResourceType, attributes: Record<string, unknown>, self: string | undefined): void {
    const keys = uniqueKeys(type, attributes);
    for (const record of this.#records[type].values()) {
      if (record.id === self) continue;
      const other = uniqueKeys(type, record.attributes);
      if (keys.userName !== null && keys.userName === other.userName)
        throw new ScimUniquenessConflict('userName');
      if (keys.externalId !== null && keys.externalId === other.externalId) {
        throw new ScimUniquenessConflict('externalId');
      }
    }
  }
}

function copy(record: ScimRecord | undefined): ScimRecord | undefined {
  return record ? structuredClone(record) : undefined;
}
