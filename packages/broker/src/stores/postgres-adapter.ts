import { migrationLedger, runMigrations } from '@baton/core/stores';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { adapterMigrations } from './adapter-schema.ts';
import { isPool, type SqlPool } from './connections.ts';
import { operationTimeoutOf, withDeadline } from './deadline.ts';
import { tablePrefixOf } from './table-prefix.ts';

/** Models that hold credentials derived from a grant, and so die with it (mirrors oidc-provider's own list). */
const GRANT_BOUND_MODELS = [
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
];

/** Like the memory adapter's sweep on upsert, but in the background and only every so many writes. */
const SWEEP_EVERY = 1024;

/** Expiry is judged by the database clock, the one clock every broker instance shares. */
const LIVE = '(expires_at IS NULL OR expires_at > now())';

export interface PostgresAdapterOptions {
  /** Prefix of the table (`<tablePrefix>oidc_payloads`). Default `baton_`. */
  tablePrefix?: string;
  /** Every adapter call rejects after this long. Default 2000. */
  operationTimeoutMs?: number;
}

export type PostgresAdapterFactory = AdapterFactory & {
  readonly table: string;
  /** Creates the table if missing; safe from every instance at every start. Run it before first use. */
  migrate(): Promise<void>;
  /** Deletes up to `limit` expired entries; returns how many went. Upserts also run it now and then. */
  deleteExpired(limit?: number): Promise<number>;
};

/**
 * oidc-provider storage in PostgreSQL, shared by every broker instance: registered clients, their
 * registration access tokens, grants, codes, and the ReplayDetection entries that make a client
 * assertion single-use across the whole deployment. Same semantics as the memory adapter: expired
 * entries are invisible, `consume` stamps `consumed`, `revokeByGrantId` removes every grant-bound
 * credential whichever model's adapter is asked.
 *
 * One deliberate strengthening: oidc-provider checks a ReplayDetection entry with `find` and then
 * writes it with `upsert`, so two instances receiving the same assertion at the same moment could both
 * pass the `find`. Here a ReplayDetection upsert only inserts (or replaces an expired entry); when a
 * live entry is already there it throws invalid_client, so exactly one of the racing requests succeeds.
 *
 * The pool stays the caller's to close.
 */
export function createPostgresAdapterFactory(
  pool: SqlPool,
  options: PostgresAdapterOptions = {},
): PostgresAdapterFactory {
  if (!isPool(pool)) throw new TypeError('pool must be a pg.Pool (or the embedded database)');
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const prefix = tablePrefixOf(options.tablePrefix);
  const table = `${prefix}oidc_payloads`;
  const timeoutMs = operationTimeoutOf(options.operationTimeoutMs);
  let writes = 0;

  const run = async <Row extends object>(name: string, text: string, values: unknown[]) =>
    withDeadline(
      pool.query<Row & Record<string, unknown>>({ name: `${table}:${name}`, text, values }),
      timeoutMs,
      `oidc adapter: ${name}`,
    );

  const payloadWhere = async (name: string, where: string, values: unknown[]) => {
    const { rows } = await run<{ payload: AdapterPayload }>(
      name,
      `SELECT payload FROM ${table} WHERE ${where} AND ${LIVE} LIMIT 1`,
      values,
    );
    return rows[0]?.payload;
  };

  async function deleteExpired(limit = 10_000): Promise<number> {
    const { rowCount } = await run(
      'deleteExpired',
      `DELETE FROM ${table} WHERE (model, id) IN
         (SELECT model, id FROM ${table} WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    );
    return rowCount ?? 0;
  }

  const factory = (model: string): Adapter => {
    if (typeof model !== 'string' || model.length === 0)
      throw new TypeError('model must be a non-empty string');
    const insertOnly = model === 'ReplayDetection';

    return {
      async upsert(id, payload, expiresIn) {
        if (++writes % SWEEP_EVERY === 0) void deleteExpired().catch(() => {});
        const { rowCount } = await run(
          insertOnly ? 'insertOnce' : 'upsert',
          `INSERT INTO ${table} AS t (model, id, payload, grant_id, user_code, uid, expires_at)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, now() + $7::float8 * interval '1 second')
           ON CONFLICT (model, id) DO UPDATE SET
             payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
             uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at
           ${insertOnly ? 'WHERE t.expires_at IS NOT NULL AND t.expires_at <= now()' : ''}`,
          [
            model,
            id,
            JSON.stringify(payload),
            payload.grantId ?? null,
            payload.userCode ?? null,
            payload.uid ?? null,
            typeof expiresIn === 'number' ? expiresIn : null,
          ],
        );
        if (insertOnly && rowCount === 0) {
          throw new errors.InvalidClientAuth('this token identifier (jti) was already used');
        }
      },
      find: (id) => payloadWhere('find', 'model = $1 AND id = $2', [model, id]),
      findByUid: (uid) => payloadWhere('findByUid', 'model = $1 AND uid = $2', [model, uid]),
      findByUserCode: (userCode) =>
        payloadWhere('findByUserCode', 'model = $1 AND user_code = $2', [model, userCode]),
      async consume(id) {
        await run(
          'consume',
          `UPDATE ${table}
           SET payload = jsonb_set(payload, '{consumed}', to_jsonb(floor(extract(epoch FROM now()))::bigint))
           WHERE model = $1 AND id = $2 AND ${LIVE}`,
          [model, id],
        );
      },
      async destroy(id) {
        await run('destroy', `DELETE FROM ${table} WHERE model = $1 AND id = $2`, [model, id]);
      },
      async revokeByGrantId(grantId) {
        // Every model shares the table, so this removes the grant's codes and tokens of every kind at once.
        await run('revokeByGrantId', `DELETE FROM ${table} WHERE grant_id = $1 AND model = ANY($2::text[])`, [
          grantId,
          GRANT_BOUND_MODELS,
        ]);
      },
    };
  };

  return Object.assign(factory, {
    table,
    migrate: async () => {
      await runMigrations(pool, {
        component: 'broker-oidc-adapter',
        ledger: migrationLedger(prefix),
        migrations: adapterMigrations(table),
      });
    },
    deleteExpired,
  });
}
