import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type AdapterFactory } from 'oidc-provider';
import { type EmbeddedDatabase, openEmbeddedDatabase } from '../src/stores/embedded-database.ts';
import { createMemoryAdapterFactory } from '../src/stores/memory-adapter.ts';
import { createPostgresAdapterFactory, type PostgresAdapterFactory } from '../src/stores/postgres-adapter.ts';
import { dropTables, openPool, uniquePrefix } from './stores/servers.ts';

const epoch = () => Math.floor(Date.now() / 1000);

/** The behaviour oidc-provider relies on from any adapter, whatever it stores in. */
function adapterConformance(name: string, makeFactory: () => Promise<AdapterFactory>): void {
  describe(`${name}: oidc-provider Adapter conformance`, () => {
    let factory: AdapterFactory;
    before(async () => {
      factory = await makeFactory();
    });

    it('finds what it upserted, per model, and a later upsert replaces it', async () => {
      const id = randomUUID();
      const clients = factory('Client');
      await clients.upsert(id, { client_id: id, redirect_uris: ['https://app.example/cb'] });
      assert.deepEqual(await clients.find(id), { client_id: id, redirect_uris: ['https://app.example/cb'] });
      assert.equal(await factory('AccessToken').find(id), undefined, 'models do not share ids');
      assert.equal(await clients.find(randomUUID()), undefined);
      await clients.upsert(id, { client_id: id, client_name: 'renamed' });
      assert.deepEqual(await clients.find(id), { client_id: id, client_name: 'renamed' });
    });

    it('hides an entry once past its expiry, and keeps one without expiry', async () => {
      const tokens = factory('AccessToken');
      const [short, lasting, none] = [randomUUID(), randomUUID(), randomUUID()];
      await tokens.upsert(short, { jti: short, kind: 'AccessToken' }, 0.3);
      await tokens.upsert(lasting, { jti: lasting, kind: 'AccessToken' }, 60);
      await tokens.upsert(none, { jti: none, kind: 'AccessToken' });
      assert.equal((await tokens.find(short))?.jti, short);
      await sleep(400);
      assert.equal(await tokens.find(short), undefined);
      assert.equal((await tokens.find(lasting))?.jti, lasting);
      assert.equal((await tokens.find(none))?.jti, none);
    });

    it('never returns an entry upserted already expired', async () => {
      const id = randomUUID();
      await factory('AuthorizationCode').upsert(id, { jti: id }, 0);
      assert.equal(await factory('AuthorizationCode').find(id), undefined);
    });

    it('finds a session by uid, within its model and only while live', async () => {
      const sessions = factory('Session');
      const [id, uid, expiredUid] = [randomUUID(), randomUUID(), randomUUID()];
      await sessions.upsert(id, { jti: id, uid, accountId: 'alice' }, 60);
      await sessions.upsert(randomUUID(), { uid: expiredUid }, 0);
      assert.equal((await sessions.findByUid(uid))?.accountId, 'alice');
      assert.equal(await factory('Interaction').findByUid(uid), undefined);
      assert.equal(await sessions.findByUid(expiredUid), undefined);
      assert.equal(await sessions.findByUid(randomUUID()), undefined);
    });

    it('finds a device code by user code, only while live', async () => {
      const codes = factory('DeviceCode');
      const [id, userCode, expiredCode] = [randomUUID(), `ABCD-${randomUUID()}`, `EFGH-${randomUUID()}`];
      await codes.upsert(id, { jti: id, userCode, clientId: 'tv' }, 60);
      await codes.upsert(randomUUID(), { userCode: expiredCode }, 0);
      assert.equal((await codes.findByUserCode(userCode))?.jti, id);
      assert.equal(await codes.findByUserCode(expiredCode), undefined);
      assert.equal(await codes.findByUserCode(randomUUID()), undefined);
    });

    it('consume stamps `consumed` with the current time, keeping the rest of the payload', async () => {
      const codes = factory('AuthorizationCode');
      const id = randomUUID();
      await codes.upsert(id, { jti: id, clientId: 'orders', scope: 'openid' }, 60);
      const before = epoch();
      await codes.consume(id);
      const found = await codes.find(id);
      assert.equal(found?.clientId, 'orders');
      assert.equal(found?.scope, 'openid');
      assert.equal(typeof found?.consumed, 'number');
      assert.ok(found.consumed >= before - 1 && found.consumed <= epoch() + 1, `consumed ${found.consumed}`);
      await codes.consume(randomUUID()); // an unknown id is not an error
    });

    it('destroy removes the entry', async () => {
      const grants = factory('Grant');
      const id = randomUUID();
      await grants.upsert(id, { jti: id, accountId: 'alice' }, 60);
      await grants.destroy(id);
      assert.equal(await grants.find(id), undefined);
      await grants.destroy(id); // destroying again is not an error
    });

    it('revokeByGrantId removes every grant-bound credential of that grant, and nothing else', async () => {
      const [grantId, otherGrant] = [randomUUID(), randomUUID()];
      const ids = Object.fromEntries(
        ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'other', 'Interaction', 'Grant'].map((key) => [
          key,
          randomUUID(),
        ]),
      ) as Record<string, string>;
      for (const model of ['AccessToken', 'AuthorizationCode', 'RefreshToken']) {
        await factory(model).upsert(ids[model]!, { jti: ids[model], grantId }, 60);
      }
      await factory('AccessToken').upsert(ids.other!, { jti: ids.other, grantId: otherGrant }, 60);
      await factory('Interaction').upsert(ids.Interaction!, { jti: ids.Interaction, grantId }, 60);
      await factory('Grant').upsert(grantId, { jti: grantId, accountId: 'alice' }, 60);

      // Asked through one model's adapter, it removes the grant's credentials of every model.
      await factory('RefreshToken').revokeByGrantId(grantId);

      for (const model of ['AccessToken', 'AuthorizationCode', 'RefreshToken']) {
        assert.equal(await factory(model).find(ids[model]!), undefined, `${model} of the grant is gone`);
      }
      assert.equal((await factory('AccessToken').find(ids.other!))?.grantId, otherGrant);
      assert.equal((await factory('Interaction').find(ids.Interaction!))?.grantId, grantId);
      assert.equal((await factory('Grant').find(grantId))?.accountId, 'alice');
    });

    it('replay detection through oidc-provider refuses a jti the second time', async () => {
      const provider = await providerOn(factory);
      const [iss, jti] = ['orders-agent', randomUUID()];
      assert.equal(await provider.ReplayDetection.unique(iss, jti, epoch() + 60), true);
      assert.equal(await provider.ReplayDetection.unique(iss, jti, epoch() + 60), false);
      assert.equal(await provider.ReplayDetection.unique(iss, randomUUID(), epoch() + 60), true);
    });
  });
}

/** An oidc-provider instance on `adapter`, with its own key so it prints no quick-start warnings. */
async function providerOn(adapter: AdapterFactory): Promise<Provider> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return new Provider('https://broker.example', {
    adapter,
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig' }] },
    features: { devInteractions: { enabled: false } },
  });
}

adapterConformance('createMemoryAdapterFactory', async () => createMemoryAdapterFactory());

describe('the embedded store: createPostgresAdapterFactory on PGlite', () => {
  let directory: string;
  let database: EmbeddedDatabase | undefined;
  after(async () => {
    await database?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  adapterConformance('embedded', async () => {
    directory = await mkdtemp(join(tmpdir(), 'baton-adapter-'));
    database = await openEmbeddedDatabase(directory);
    const factory = createPostgresAdapterFactory(database.connection);
    await factory.migrate();
    return factory;
  });
});

describe('createPostgresAdapterFactory', () => {
  const prefix = uniquePrefix();
  const pool = openPool();
  const poolB = openPool();

  after(async () => {
    await dropTables(pool, prefix);
    await pool.end();
    await poolB.end();
  });

  adapterConformance('createPostgresAdapterFactory', async () => {
    const factory = createPostgresAdapterFactory(pool, { tablePrefix: prefix });
    await factory.migrate();
    return factory;
  });

  describe('shared by several broker instances', () => {
    let a: PostgresAdapterFactory;
    let b: PostgresAdapterFactory;
    before(async () => {
      a = createPostgresAdapterFactory(pool, { tablePrefix: prefix });
      b = createPostgresAdapterFactory(poolB, { tablePrefix: prefix });
      await Promise.all([a.migrate(), b.migrate()]);
    });

    it('a client registered through one instance is found, and destroyed, through the other', async () => {
      const id = randomUUID();
      await a('Client').upsert(id, { client_id: id, token_endpoint_auth_method: 'private_key_jwt' });
      await a('RegistrationAccessToken').upsert(`rat-${id}`, { jti: `rat-${id}`, clientId: id }, 60);
      assert.equal((await b('Client').find(id))?.token_endpoint_auth_method, 'private_key_jwt');
      assert.equal((await b('RegistrationAccessToken').find(`rat-${id}`))?.clientId, id);
      await b('Client').destroy(id);
      assert.equal(await a('Client').find(id), undefined);
    });

    it('a client assertion replayed to another instance is refused', async () => {
      const [first, second] = await Promise.all([providerOn(a), providerOn(b)]);
      const jti = randomUUID();
      assert.equal(await first.ReplayDetection.unique('orders-agent', jti, epoch() + 60), true);
      assert.equal(await second.ReplayDetection.unique('orders-agent', jti, epoch() + 60), false);
    });

    it('of simultaneous replays across instances, exactly one is accepted', async () => {
      const providers = await Promise.all([providerOn(a), providerOn(b)]);
      for (let round = 0; round < 5; round++) {
        const jti = randomUUID();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, index) =>
            providers[index % 2]!.ReplayDetection.unique('orders-agent', jti, epoch() + 60),
          ),
        );
        const accepted = outcomes.filter(
          (outcome) => outcome.status === 'fulfilled' && outcome.value === true,
        );
        assert.equal(accepted.length, 1, JSON.stringify(outcomes.map((outcome) => outcome.status)));
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected')
            assert.equal((outcome.reason as { error?: string }).error, 'invalid_client');
        }
      }
    });

    it('a replay-detection entry that has expired may be written again', async () => {
      const id = randomUUID();
      await a('ReplayDetection').upsert(id, { jti: id, iss: 'orders-agent' }, 0);
      await b('ReplayDetection').upsert(id, { jti: id, iss: 'orders-agent' }, 60);
      await assert.rejects(a('ReplayDetection').upsert(id, { jti: id, iss: 'orders-agent' }, 60), {
        error: 'invalid_client',
      });
    });

    it('deleteExpired removes expired entries only', async () => {
      const [gone, kept] = [randomUUID(), randomUUID()];
      await a('AccessToken').upsert(gone, { jti: gone }, 0);
      await a('AccessToken').upsert(kept, { jti: kept }, 60);
      assert.ok((await b.deleteExpired()) >= 1);
      const { rows } = await pool.query(`SELECT id FROM ${a.table} WHERE id = ANY($1)`, [[gone, kept]]);
      assert.deepEqual(
        rows.map((row) => row.id),
        [kept],
      );
    });
  });

  it('refuses misuse with a TypeError', () => {
    assert.throws(() => createPostgresAdapterFactory(undefined as never), TypeError);
    assert.throws(() => createPostgresAdapterFactory('postgres://x' as never), TypeError);
    assert.throws(() => createPostgresAdapterFactory(pool, { tablePrefix: 'Bad-Prefix' }), TypeError);
    assert.throws(() => createPostgresAdapterFactory(pool, { operationTimeoutMs: -1 }), TypeError);
    assert.throws(() => createPostgresAdapterFactory(pool)(''), TypeError);
  });
});
