import { randomUUID } from 'node:crypto';
import { migrationLedger, runMigrations } from '@baton/core/stores';
import { isPool, type SqlPool } from '../stores/connections.ts';
import { operationTimeoutOf, withDeadline } from '../stores/deadline.ts';
import { tablePrefixOf } from '../stores/table-prefix.ts';
import {
  type ScimRecord,
  type ScimResourceType,
  type ScimStore,
  ScimUniquenessConflict,
  uniqueKeys,
} from './scim-store.ts';

export interface SqlScimStoreOptions {
  /** A `pg.Pool` or the embedded database (`openEmbeddedDatabase`); stays the caller's to close. */
  pool: SqlPool;
  /** Prefix of the table (`<tablePrefix>scim_resources`). Default `baton_`. */
  tablePrefix?: string;
  /** Every query rejects after this long. Default 2000. */
  operationTimeoutMs?: number;
}

/**
 * The SCIM resources table: attributes as JSON beside the two unique keys of a user, with unique
 * indexes so that two broker instances creating the same `userName` at once cannot both succeed.
 */
function scimMigrations(table: string) {
  return [
    {
      version: 1,
      description: `${table}: SCIM users and groups`,
      sql: `
CREATE TABLE IF NOT EXISTS ${table} (
  type text NOT NULL CHECK (type IN ('User', 'Group')),
  id text NOT NULL,
  version integer NOT NULL,
  user_name text,
  external_id text,
  attributes jsonb NOT NULL,
  created timestamptz NOT NULL,
  last_modified timestamptz NOT NULL,
  PRIMARY KEY (type, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS ${table}_user_name_idx ON ${table} (type, user_name) WHERE user_name IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS ${table}_external_id_idx ON ${table} (type, external_id) WHERE external_id IS NOT NULL;`,
    },
  ];
}

interface Row {
  id: string;
  version: number;
  attributes: Record<string, unknown>;
  created: Date | string;
  last_modified: Date | string;
}

const COLUMNS = 'id, version, attributes, created, last_modified';

/**
 * SCIM users and groups in PostgreSQL (or the embedded PGlite), shared by every broker instance of a
 * deployment. Writes are compare-and-set on `version`, so an instance never replaces what another
 * changed since it read (the SCIM service then reads again and re-applies the request).
 *
 * @example
 * const scimStore = await SqlScimStore.create({ pool });
 */
export class SqlScimStore implements ScimStore {
  readonly table: string;
  readonly #pool: SqlPool;
  readonly #timeoutMs: number;

  private constructor(pool: SqlPool, table: string, timeoutMs: number) {
    this.#pool = pool;
    this.table = table;
    this.#timeoutMs = timeoutMs;
  }

  /** Runs the table's migrations (safe from every instance at every start) and returns the store. */
  static async create(options: SqlScimStoreOptions): Promise<SqlScimStore> {
    if (!isPool(options?.pool))
      throw new TypeError('SqlScimStore: pool must be a pg.Pool (or the embedded database)');
    const prefix = tablePrefixOf(options.tablePrefix);
    const table = `${prefix}scim_resources`;
    await runMigrations(options.pool, {
      component: 'broker-scim',
      ledger: migrationLedger(prefix),
      migrations: scimMigrations(table),
    });
    return new SqlScimStore(options.pool, table, operationTimeoutOf(options.operationTimeoutMs));
  }

  async get(type: ScimResourceType, id: string): Promise<ScimRecord | undefined> {
    const { rows } = await this.#run(
      'get',
      `SELECT ${COLUMNS} FROM ${this.table} WHERE type = $1 AND id = $2`,
      [type, id],
    );
    return rows[0] ? recordOf(rows[0]) : undefined;
  }

  async list(type: ScimResourceType): Promise<ScimRecord[]> {
    const { rows } = await this.#run(
      'list',
      `SELECT ${COLUMNS} FROM ${this.table} WHERE type = $1 ORDER BY created, id`,
      [type],
    );
    return rows.map(recordOf);
  }

  async create(type: ScimResourceType, attributes: Record<string, unknown>): Promise<ScimRecord> {
    const keys = uniqueKeys(type, attributes);
    const { rows } = await this.#unique(() =>
      this.#run(
        'create',
        `INSERT INTO ${this.table} (type, id, version, user_name, external_id, attributes, created, last_modified)
         VALUES ($1, $2, 1, $3, $4, $5, now(), now()) RETURNING ${COLUMNS}`,
        [type, randomUUID(), keys.userName, keys.externalId, JSON.stringify(attributes)],
      ),
    );
    return recordOf(rows[0]!);
  }

  async replace(
    type: ScimResourceType,
    id: string,
    attributes: Record<string, unknown>,
    expectedVersion: number,
  ): Promise<ScimRecord | undefined> {
    const keys = uniqueKeys(type, attributes);
    const { rows } = await this.#unique(() =>
      this.#run(
        'replace',
        `UPDATE ${this.table} SET version = version + 1, user_name = $4, external_id = $5, attributes = $6,
           last_modified = now()
         WHERE type = $1 AND id = $2 AND version = $3 RETURNING ${COLUMNS}`,
        [type, id, expectedVersion, keys.userName, keys.externalId, JSON.stringify(attributes)],
      ),
    );
    return rows[0] ? recordOf(rows[0]) : undefined;
  }

  async delete(type: ScimResourceType, id: string, expectedVersion: number): Promise<boolean> {
    const { rowCount } = await this.#run(
      'delete',
      `DELETE FROM ${this.table} WHERE type = $1 AND id = $2 AND version = $3`,
      [type, id, expectedVersion],
    );
    return (rowCount ?? 0) > 0;
  }

  #run(name: string, text: string, values: unknown[]) {
    return withDeadline(
      this.#pool.query<Row>({ name: `${this.table}:${name}`, text, values }),
      this.#timeoutMs,
      `scim store: ${name}`,
    );
  }

  /** PostgreSQL's unique_violation (23505) on one of the two indexes, as the SCIM conflict it means. */
  async #unique<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string };
      if (code !== '23505') throw error;
      throw new ScimUniquenessConflict(constraint?.endsWith('_external_id_idx') ? 'externalId' : 'userName');
    }
  }
}

function recordOf(row: Row): ScimRecord {
  return {
    id: row.id,
    version: Number(row.version),
    attributes: row.attributes,
    created: new Date(row.created),
    lastModified: new Date(row.last_modified),
  };
}
