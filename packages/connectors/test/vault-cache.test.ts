import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createVault, FileKeyStore, MemoryVaultStore, vaultKeyValue } from '@baton/vault';
import { stringTokenCache, tokenCacheKey } from '../src/index.ts';

describe('platform token cache in the encrypted vault', () => {
  it('round-trips tokens while the store holds only sealed records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-platform-cache-'));
    try {
      const records = new MemoryVaultStore();
      const vault = createVault({
        keyStore: await FileKeyStore.open({ path: join(dir, 'keys.json') }),
        store: records,
      });
      const cache = stringTokenCache(vaultKeyValue(vault, 'platform-tokens'));
      const key = tokenCacheKey('crm', { sub: 'user-alice', tenant: 'acme' }, ['crm:read']);
      const token = {
        accessToken: 'platform-secret-token',
        expiresAt: Math.floor(Date.now() / 1000) + 300,
        scope: 'crm:read',
      };
      await cache.set(key, token, 300);
      assert.deepEqual(await cache.get(key), token);
      const sealed: string[] = [];
      for await (const id of records.list()) sealed.push(`${id} ${await records.get(id)}`);
      assert.equal(sealed.length, 1);
      assert.equal(sealed[0]!.includes('platform-secret-token'), false);
      assert.equal(sealed[0]!.includes('user-alice'), false);
      await cache.delete(key);
      assert.equal(await cache.get(key), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
