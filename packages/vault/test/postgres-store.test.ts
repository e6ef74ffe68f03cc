import { after } from 'node:test';
import { PostgresVaultStore } from '../src/index.ts';
import { keyStoreKinds } from './helpers/key-stores.ts';
import { dropTables, postgresPool, uniqueSuffix } from './helpers/servers.ts';
import { createSoftHsm } from './helpers/softhsm.ts';
import { storeConformance } from './helpers/store-conformance.ts';
import { vaultSuite } from './helpers/vault-suite.ts';

const hsm = createSoftHsm(['postgres']);
const keys = keyStoreKinds(hsm, hsm.tokens.postgres!);
const pool = postgresPool();
/** Every table this run creates starts with this; each store gets its own table under it. */
const runPrefix = `vt${uniqueSuffix()}_`;
let tables = 0;
const tablePrefix = () => `${runPrefix}${tables++}_`;

after(async () => {
  await dropTables(pool, runPrefix);
  await pool.end();
  await keys.close();
  hsm.cleanup();
});

storeConformance('PostgresVaultStore', () => PostgresVaultStore.open({ pool, tablePrefix: tablePrefix() }));

for (const [kind, makeKeyStore] of keys.kinds) {
  vaultSuite(`PostgresVaultStore × ${kind}`, async (clock) => ({
    store: await PostgresVaultStore.open({ pool, tablePrefix: tablePrefix(), now: clock.now }),
    keyStore: await makeKeyStore(),
  }));
}
