import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { openStores } from '../src/stores/open-stores.ts';
import {
  deleteKeys,
  dropTables,
  openPool,
  openRedis,
  POSTGRES_URL,
  REDIS_URL,
  uniquePrefix,
} from './stores/servers.ts';

describe('openStores (postgres-redis)', () => {
  const prefix = uniquePrefix();
  // A name of its own, so this test terminates only its own connections on a shared server.
  const applicationName = `baton_open_stores_${prefix}`;
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('application_name', applicationName);

  after(async () => {
    const pool = openPool();
    await dropTables(pool, prefix);
    await pool.end();
    const redis = await openRedis();
    await deleteKeys(redis, `${prefix}:`);
    await redis.close();
  });

  it('survives the server dropping its idle connections, and recovers on the next query', async () => {
    const stores = await openStores({
      kind: 'postgres-redis',
      postgresUrl: url.toString(),
      redisUrl: REDIS_URL,
      tablePrefix: prefix,
      keyPrefix: `${prefix}:`,
    });
    try {
      const record = {
        jti: `jti-${prefix}`,
        parent: null,
        root: `root-${prefix}`,
        subject: 'user-alice',
        clientId: 'orders-mcp',
        audience: 'http://127.0.0.1/billing',
        exp: Math.floor(Date.now() / 1000) + 300,
      };
      await stores.registry.record(record);
      const admin = openPool();
      try {
        const { rowCount } = await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        );
        assert.ok((rowCount ?? 0) > 0, 'the stores held an idle connection to drop');
      } finally {
        await admin.end();
      }
      // Without an 'error' listener on the pool, the dropped idle connection would end this process here.
      await delay(200);
      assert.deepEqual(await stores.registry.find(record.jti), record);
    } finally {
      await stores.close();
    }
  });
});
