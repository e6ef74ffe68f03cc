import { after, before } from 'node:test';
import { RedisVaultStore } from '../src/index.ts';
import { keyStoreKinds } from './helpers/key-stores.ts';
import { deleteKeys, type Redis, redisClient, uniqueSuffix } from './helpers/servers.ts';
import { createSoftHsm } from './helpers/softhsm.ts';
import { storeConformance } from './helpers/store-conformance.ts';
import { vaultSuite } from './helpers/vault-suite.ts';

const hsm = createSoftHsm(['redis']);
const keys = keyStoreKinds(hsm, hsm.tokens.redis!);
/** Every key this run writes starts with this; each store gets its own prefix under it. */
const runPrefix = `baton-vault-test:${uniqueSuffix()}:`;
let stores = 0;
const keyPrefix = () => `${runPrefix}${stores++}:`;
let redis: Redis;

before(async () => {
  redis = await redisClient();
});
after(async () => {
  await deleteKeys(redis, runPrefix);
  await redis.close();
  await keys.close();
  hsm.cleanup();
});

storeConformance('RedisVaultStore', async () => new RedisVaultStore({ redis, keyPrefix: keyPrefix() }));

for (const [kind, makeKeyStore] of keys.kinds) {
  vaultSuite(`RedisVaultStore × ${kind}`, async () => ({
    store: new RedisVaultStore({ redis, keyPrefix: keyPrefix() }),
    keyStore: await makeKeyStore(),
  }));
}
