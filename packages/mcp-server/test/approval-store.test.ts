import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KeyValueStore } from '@baton/core/stores';
import { createClient } from 'redis';
import {
  type ApprovalRecord,
  type ApprovalStore,
  keyValueApprovalStore,
  memoryApprovalStore,
} from '../src/approval/store.ts';

const REDIS = process.env.BATON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function record(id: string): ApprovalRecord {
  const now = Math.floor(Date.now() / 1000);
  return {
    id,
    digest: `digest-${id}`,
    tool: 'create_order',
    input: { amount: 5000 },
    agent: 'agent',
    subject: 'user-alice',
    issuer: 'https://idp.example',
    tenant: 'acme',
    session: 'session',
    rules: ['large'],
    status: 'pending',
    createdAt: now,
    expiresAt: now + 300,
  };
}

/** The same suite for every store: several instances share approvals only if each store keeps these. */
function conformance(name: string, open: () => ApprovalStore) {
  describe(`approval store conformance: ${name}`, () => {
    it('finds an approval by id and by its digest', async () => {
      const store = open();
      const id = randomUUID();
      await store.put(record(id), 60);
      assert.equal((await store.get(id))?.tool, 'create_order');
      assert.equal(await store.latestFor(`digest-${id}`), id);
    });

    it('lets exactly one of two racing redemptions use an approval (one-time use)', async () => {
      const store = open();
      const id = randomUUID();
      await store.put(record(id), 60);
      assert.ok(await store.transition(id, 'pending', 'approved', 60));
      const results = await Promise.all([
        store.transition(id, 'approved', 'used', 60),
        store.transition(id, 'approved', 'used', 60),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.get(id))?.status, 'used');
    });

    it('does not approve what was already denied', async () => {
      const store = open();
      const id = randomUUID();
      await store.put(record(id), 60);
      assert.ok(await store.transition(id, 'pending', 'denied', 60));
      assert.equal(await store.transition(id, 'pending', 'approved', 60), undefined);
      assert.equal((await store.get(id))?.status, 'denied');
    });

    it('hands out a sign-in state once', async () => {
      const store = open();
      const key = randomUUID();
      await store.putValue(key, 'pending', 60);
      const taken = await Promise.all([store.takeValue(key), store.takeValue(key)]);
      assert.deepEqual(taken.filter(Boolean), ['pending']);
    });
  });
}

conformance('memory', () => memoryApprovalStore());

const redis = createClient({ url: REDIS });
before(async () => {
  await redis.connect();
});
after(async () => {
  await redis.quit();
});
/** A Redis `KeyValueStore` with `take` (GETDEL), under a prefix of its own per run. */
const redisKeyValue = (): KeyValueStore & { take(key: string): Promise<string | undefined> } => ({
  async get(key) {
    return (await redis.get(key)) ?? undefined;
  },
  async set(key, value, ttlSeconds) {
    await redis.set(key, value, { expiration: { type: 'EX', value: ttlSeconds } });
  },
  async delete(key) {
    await redis.del(key);
  },
  async take(key) {
    return (await redis.getDel(key)) ?? undefined;
  },
});
conformance('Redis (shared by instances)', () =>
  keyValueApprovalStore(redisKeyValue(), { prefix: `test:approvals:${randomUUID()}:` }),
);
