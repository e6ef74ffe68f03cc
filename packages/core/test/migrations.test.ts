import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type Migration, runMigrations } from '../src/stores/index.ts';

const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let pools: pg.Pool[];
let prefix: string;
before(() => {
  prefix = `t${randomBytes(6).toString('hex')}_`;
  // Separate pools: separate "instances", each with its own connections.
  pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }));
});
after(async () => {
  const { rows } = await pools[0]!.query<{ name: string }>(
    'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
    [prefix],
  );
  for (const { name } of rows) await pools[0]!.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(name)}`);
  await Promise.all(pools.map((pool) => pool.end()));
});

/** Migrations that are not idempotent: run twice, version 2 would add a second row. */
const migrations = (): Migration[] => [
  { version: 1, description: 'counter table', sql: `CREATE TABLE ${prefix}applied (n integer NOT NULL)` },
  { version: 2, description: 'first row', sql: `INSERT INTO ${prefix}applied (n) VALUES (2)` },
];

describe('runMigrations', () => {
  it('two instances migrating at once apply each migration once', async () => {
    const ledger = `${prefix}schema_migrations`;
    const results = await Promise.all(
      pools.map((pool) => runMigrations(pool, { component: 'race', ledger, migrations: migrations() })),
    );
    assert.deepEqual(results.flat().sort(), [1, 2], 'each version applied by exactly one instance');
    const { rows } = await pools[0]!.query(`SELECT n FROM ${prefix}applied`);
    assert.equal(rows.length, 1);
    const ledgerRows = await pools[0]!.query(`SELECT version FROM ${ledger} WHERE component = 'race'`);
    assert.deepEqual(ledgerRows.rows.map((row) => row.version).sort(), [1, 2]);
  });

  it('a later start applies only the new version; an older release leaves a newer version alone', async () => {
    const ledger = `${prefix}schema_migrations`;
    const next: Migration = {
      version: 3,
      description: 'second row',
      sql: `INSERT INTO ${prefix}applied (n) VALUES (3)`,
    };
    assert.deepEqual(
      await runMigrations(pools[1]!, { component: 'race', ledger, migrations: [...migrations(), next] }),
      [3],
    );
    assert.deepEqual(
      await runMigrations(pools[2]!, { component: 'race', ledger, migrations: migrations() }),
      [],
    );
    const { rows } = await pools[0]!.query(`SELECT n FROM ${prefix}applied ORDER BY n`);
    assert.deepEqual(
      rows.map((row) => row.n),
      [2, 3],
    );
  });

  it('a failing migration leaves nothing half-applied, and the next start retries it', async () => {
    const ledger = `${prefix}schema_migrations`;
    const broken: Migration[] = [
      { version: 1, description: 'table', sql: `CREATE TABLE ${prefix}atomic (n integer)` },
      { version: 2, description: 'broken', sql: 'SELECT * FROM a_table_that_does_not_exist' },
    ];
    await assert.rejects(runMigrations(pools[0]!, { component: 'atomic', ledger, migrations: broken }));
    const exists = await pools[0]!.query('SELECT to_regclass($1) AS t', [`${prefix}atomic`]);
    assert.equal(exists.rows[0].t, null, 'version 1 was rolled back with version 2');
    const fixed = [broken[0]!, { ...broken[1]!, sql: `INSERT INTO ${prefix}atomic VALUES (1)` }];
    assert.deepEqual(
      await runMigrations(pools[0]!, { component: 'atomic', ledger, migrations: fixed }),
      [1, 2],
    );
  });

  it('refuses a ledger name that would be spliced into SQL unchecked, and unordered versions', async () => {
    await assert.rejects(
      runMigrations(pools[0]!, { component: 'x', ledger: 'x; DROP TABLE y', migrations: [] }),
      TypeError,
    );
    await assert.rejects(
      runMigrations(pools[0]!, {
        component: 'x',
        migrations: [
          { version: 2, description: 'b', sql: 'SELECT 1' },
          { version: 1, description: 'a', sql: 'SELECT 1' },
        ],
      }),
      TypeError,
    );
  });
});
