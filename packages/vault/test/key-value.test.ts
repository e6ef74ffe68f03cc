import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { keyValueConformance } from '../../core/test/fixtures/key-value-conformance.ts';
import {
  createVault,
  FileKeyStore,
  MemoryVaultStore,
  PostgresVaultStore,
  RedisVaultStore,
  type VaultStore,
  vaultKeyValue,
} from '../src/index.ts';
import {
  deleteKeys,
  dropTables,
  postgresPool,
  type Redis,
  redisClient,
  uniqueSuffix,
} from './helpers/servers.ts';

/** `vaultKeyValue` is `@baton/core/stores`' `KeyValueStore`: the same contract over every vault store. */
let dir: string;
let redis: Redis;
const pool = postgresPool();
const tablePrefix = `t${uniqueSuffix()}_`;
const redisPrefix = `baton-vault-kv-test:${uniqueSuffix()}:`;
let stores = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-vault-kv-'));
  redis = await redisClient();
});
after(async () => {
  await dropTables(pool, tablePrefix);
  await pool.end();
  await deleteKeys(redis, redisPrefix);
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

const kinds: Array<[string, (now: () => number) => Promise<VaultStore>]> = [
  ['memory', async (now) => new MemoryVaultStore({ now })],
  ['PostgreSQL', (now) => PostgresVaultStore.open({ pool, tablePrefix, now })],
  ['Redis', async () => new RedisVaultStore({ redis, keyPrefix: `${redisPrefix}${stores++}:` })],
];

for (const [kind, makeStore] of kinds) {
  keyValueConformance(`vaultKeyValue over ${kind}`, async (clock) => {
    const vault = createVault({
      keyStore: await FileKeyStore.open({ path: join(dir, `${kind}-keys.json`) }),
      store: await makeStore(clock.now),
      now: clock.now,
    });
    return vaultKeyValue(vault, 'conformance');
  });
}
