import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVault, FileKeyStore, MemoryVaultStore, VaultError, vaultKeyValue } from '@baton/vault';
import {
  jwtBearerConnector,
  type PlatformToken,
  stringTokenCache,
  type TokenCache,
  tokenCacheKey,
} from '../src/index.ts';
import { startJwtBearerTestPlatform } from './fixtures/jwt-bearer-test-platform.ts';
import { generateTestKey, type TestKey } from './fixtures/keys.ts';

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

describe('jwt-bearer connector caching in the encrypted vault', () => {
  const DAY = 24 * 3600;
  const PLATFORM_USERS = { 'ann@platform.example': '005-ann' };
  const ann = { sub: 'user-ann', tenant: 'acme' };
  let key: TestKey;
  let dir: string;

  before(async () => {
    key = await generateTestKey();
    dir = await mkdtemp(join(tmpdir(), 'baton-connector-vault-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function setup(options: { accessTokenTtlSeconds?: number } = {}) {
    const platform = await startJwtBearerTestPlatform({
      clients: [{ clientId: 'baton', jwks: { keys: [key.publicJwk] } }],
      users: PLATFORM_USERS,
      ...options,
    });
    const records = new MemoryVaultStore();
    const vault = createVault({
      keyStore: await FileKeyStore.open({ path: join(dir, `${randomUUID()}.json`) }),
      store: records,
    });
    const cacheErrors: Array<{ error: unknown; operation: 'get' | 'set' | 'delete' }> = [];
    const connector = (cache: TokenCache = stringTokenCache(vaultKeyValue(vault, 'platform-tokens'))) =>
      jwtBearerConnector({
        id: 'salesforce',
        tokenEndpoint: platform.tokenEndpoint,
        clientId: 'baton',
        privateKey: key.privateJwk,
        identityMapping: (user) => (user.sub === 'user-ann' ? 'ann@platform.example' : undefined),
        cache,
        onCacheError: (error, operation) => cacheErrors.push({ error, operation }),
      });
    async function requestsDuring(run: () => Promise<unknown>): Promise<number> {
      const before = platform.tokenRequests.length;
      await run();
      return platform.tokenRequests.length - before;
    }
    async function onlyRecord(): Promise<{ id: string; raw: string }> {
      const ids: string[] = [];
      for await (const id of records.list()) ids.push(id);
      assert.equal(ids.length, 1);
      return { id: ids[0]!, raw: (await records.get(ids[0]!))! };
    }
    return { platform, records, vault, cacheErrors, connector, requestsDuring, onlyRecord };
  }

  it('caches a token valid for 40 days, for at most the vault maximum TTL', async () => {
    const { platform, vault, cacheErrors, connector, requestsDuring, onlyRecord } = await setup({
      accessTokenTtlSeconds: 40 * DAY,
    });
    try {
      const c = connector();
      const before = Date.now();
      const first = await c.token({ user: ann, scopes: ['api'] });
      assert.ok(first.expiresAt * 1000 > before + 39 * DAY * 1000, 'the platform issued a 40-day token');
      const { raw } = await onlyRecord();
      const exp = JSON.parse(raw).exp as number;
      assert.ok(exp <= Date.now() + vault.maxTtlSeconds * 1000, 'the entry lapses by the vault maximum');
      assert.ok(exp > before + (vault.maxTtlSeconds - 60) * 1000);
      const sent = await requestsDuring(async () => {
        assert.equal((await c.token({ user: ann, scopes: ['api'] })).accessToken, first.accessToken);
      });
      assert.equal(sent, 0, 'served from the vault');
      assert.deepEqual(cacheErrors, []);
    } finally {
      await platform.close();
    }
  });

  it('returns the fetched token when the cache write fails, and reports the failure', async () => {
    const { platform, cacheErrors, connector } = await setup();
    try {
      const refusing: TokenCache = {
        get: async () => undefined,
        set: async () => {
          throw new RangeError('ttlSeconds exceeds maxTtlSeconds');
        },
        delete: async () => {},
      };
      const token = await connector(refusing).token({ user: ann, scopes: ['api'] });
      assert.ok(token.accessToken);
      assert.equal(cacheErrors.length, 1);
      assert.equal(cacheErrors[0]!.operation, 'set');
      assert.ok(cacheErrors[0]!.error instanceof RangeError);
    } finally {
      await platform.close();
    }
  });

  it('treats a tampered vault record as a miss: fetches afresh and overwrites it', async () => {
    const { platform, records, cacheErrors, connector, requestsDuring, onlyRecord } = await setup();
    try {
      const c = connector();
      const first = await c.token({ user: ann, scopes: ['api'] });
      const { id, raw } = await onlyRecord();
      const record = JSON.parse(raw);
      const ct = Buffer.from(record.ct, 'base64url');
      ct[0]! ^= 0x01;
      record.ct = ct.toString('base64url');
      await records.put(id, JSON.stringify(record), record.exp);

      let second: PlatformToken | undefined;
      const sent = await requestsDuring(async () => {
        second = await c.token({ user: ann, scopes: ['api'] });
      });
      assert.equal(sent, 1, 'fetched afresh');
      assert.notEqual(second!.accessToken, first.accessToken);
      assert.equal(cacheErrors.length, 1);
      assert.equal(cacheErrors[0]!.operation, 'get');
      assert.ok(cacheErrors[0]!.error instanceof VaultError);
      assert.equal((cacheErrors[0]!.error as VaultError).code, 'ERR_VAULT_TAMPERED');
      assert.equal(String(cacheErrors[0]!.error).includes(first.accessToken), false);

      // The tampered record was overwritten: the next call is served from the vault again.
      assert.notEqual((await onlyRecord()).raw, JSON.stringify(record));
      const again = await requestsDuring(async () => {
        assert.equal((await c.token({ user: ann, scopes: ['api'] })).accessToken, second!.accessToken);
      });
      assert.equal(again, 0);
      assert.equal(cacheErrors.length, 1);
    } finally {
      await platform.close();
    }
  });

  it('treats a record sealed under an unknown key as a miss', async () => {
    const { platform, records, cacheErrors, connector, requestsDuring } = await setup();
    try {
      await connector().token({ user: ann, scopes: ['api'] });
      // Another vault over the same records, with a key store that never held their key.
      const stranger = createVault({
        keyStore: await FileKeyStore.open({ path: join(dir, `${randomUUID()}.json`) }),
        store: records,
      });
      const c = connector(stringTokenCache(vaultKeyValue(stranger, 'platform-tokens')));
      const sent = await requestsDuring(() => c.token({ user: ann, scopes: ['api'] }));
      assert.equal(sent, 1);
      assert.equal(cacheErrors.length, 1);
      assert.equal((cacheErrors[0]!.error as VaultError).code, 'ERR_VAULT_KEY_UNKNOWN');
    } finally {
      await platform.close();
    }
  });
});
