import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeyStore, Pkcs11KeyStore } from '../../src/index.ts';
import type { SoftHsm, SoftHsmToken } from './softhsm.ts';
import type { RotatingKeyStore } from './vault-suite.ts';

export interface KeyStoreKinds {
  /** Each factory returns a fresh key store with its own KEKs (own file, own key label). */
  readonly kinds: ReadonlyArray<readonly [string, () => Promise<RotatingKeyStore>]>;
  close(): Promise<void>;
}

/** Both key stores the vault ships, each fresh per call: a key file in a temp dir, and a KEK label on a SoftHSM2 token. */
export function keyStoreKinds(hsm: SoftHsm, token: SoftHsmToken): KeyStoreKinds {
  const dir = mkdtempSync(join(tmpdir(), 'baton-vault-keys-'));
  const opened: Pkcs11KeyStore[] = [];
  return {
    kinds: [
      ['FileKeyStore', () => FileKeyStore.open({ path: join(dir, randomUUID(), 'keys.json') })],
      [
        'Pkcs11KeyStore (SoftHSM2)',
        async () => {
          const store = await Pkcs11KeyStore.open({
            library: hsm.library,
            tokenLabel: token.tokenLabel,
            pin: token.pin,
            keyLabel: `kek-${randomUUID()}`,
            generateIfMissing: true,
          });
          opened.push(store);
          return store;
        },
      ],
    ],
    async close() {
      for (const store of opened) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
