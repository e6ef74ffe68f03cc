import { after } from 'node:test';
import { MemoryVaultStore } from '../src/index.ts';
import { keyStoreKinds } from './helpers/key-stores.ts';
import { createSoftHsm } from './helpers/softhsm.ts';
import { storeConformance } from './helpers/store-conformance.ts';
import { vaultSuite } from './helpers/vault-suite.ts';

const hsm = createSoftHsm(['memory']);
const keys = keyStoreKinds(hsm, hsm.tokens.memory!);
after(async () => {
  await keys.close();
  hsm.cleanup();
});

storeConformance('MemoryVaultStore', async () => new MemoryVaultStore());

for (const [kind, makeKeyStore] of keys.kinds) {
  vaultSuite(`MemoryVaultStore × ${kind}`, async (clock) => ({
    store: new MemoryVaultStore({ now: clock.now }),
    keyStore: await makeKeyStore(),
  }));
}
