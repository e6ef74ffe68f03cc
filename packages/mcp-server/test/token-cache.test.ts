import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenCache } from '../src/downstream/token-cache.ts';

describe('downstream token cache', () => {
  it('obtains once for concurrent callers of one key, and separately per key', async () => {
    const cache = new TokenCache();
    let obtained = 0;
    const obtain = async () => {
      const number = ++obtained;
      await sleep(10);
      return { accessToken: `token-${number}`, expiresAt: Math.floor(Date.now() / 1000) + 300 };
    };
    const tokens = await Promise.all([
      cache.get('alice', obtain),
      cache.get('alice', obtain),
      cache.get('bob', obtain),
    ]);
    assert.equal(obtained, 2);
    assert.equal(tokens[0]!.accessToken, tokens[1]!.accessToken);
    assert.notEqual(tokens[0]!.accessToken, tokens[2]!.accessToken);
  });

  it('refreshes a token shortly before it expires', async () => {
    const cache = new TokenCache({ refreshSkewSeconds: 30 });
    let obtained = 0;
    const obtain = async () => ({
      accessToken: `token-${++obtained}`,
      expiresAt: Math.floor(Date.now() / 1000) + 31,
    });
    assert.equal((await cache.get('alice', obtain)).accessToken, 'token-1');
    assert.equal((await cache.get('alice', obtain)).accessToken, 'token-1', 'still more than the skew away');
    await sleep(1100);
    assert.equal(
      (await cache.get('alice', obtain)).accessToken,
      'token-2',
      'within the skew of expiry: refreshed',
    );
  });

  it('does not cache a failure', async () => {
    const cache = new TokenCache();
    await assert.rejects(cache.get('alice', async () => Promise.reject(new Error('broker down'))));
    const token = await cache.get('alice', async () => ({
      accessToken: 'ok',
      expiresAt: Math.floor(Date.now() / 1000) + 300,
    }));
    assert.equal(token.accessToken, 'ok');
  });
});

describe('downstream token cache over the encrypted vault', () => {
  it('shares a token between instances through the vault, which holds only ciphertext', async () => {
    const { createVault, FileKeyStore, MemoryVaultStore, vaultKeyValue } = await import('@baton/vault');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'baton-cache-'));
    try {
      const records = new MemoryVaultStore();
      const vault = createVault({
        keyStore: await FileKeyStore.open({ path: join(dir, 'keys.json') }),
        store: records,
      });
      const store = vaultKeyValue(vault, 'downstream');
      const secret = 'eyJ-pretend-this-is-an-access-token';
      const first = new TokenCache({ store });
      const second = new TokenCache({ store });
      let obtained = 0;
      const obtain = async () => ({
        accessToken: `${secret}-${++obtained}`,
        expiresAt: Math.floor(Date.now() / 1000) + 300,
      });
      const key = 'on_behalf_of\nuser-alice\nacme\nagent-1\nhttps://api.example\norders:read';
      assert.equal((await first.get(key, obtain)).accessToken, `${secret}-1`);
      assert.equal(
        (await second.get(key, obtain)).accessToken,
        `${secret}-1`,
        'the second instance reused it',
      );
      assert.equal(obtained, 1);
      const stored: string[] = [];
      for await (const id of records.list()) stored.push(`${id} ${await records.get(id)}`);
      assert.equal(stored.length, 1, 'one sealed record');
      const raw = stored.join('\n');
      assert.equal(raw.includes(secret), false, 'no plaintext token at rest');
      assert.equal(raw.includes('user-alice'), false, 'cache keys are hashed before they become entry ids');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
