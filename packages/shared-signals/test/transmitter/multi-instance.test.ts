import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { DELIVERY_METHODS, EVENT_TYPES, SqlStreamStore } from '../../src/index.ts';
import {
  POSTGRES_URL,
  type PushReceiver,
  type RunningTransmitter,
  type SigningKey,
  signingKey,
  startPushReceiver,
  startTransmitter,
  TOKEN_A,
  uniquePrefix,
} from './fixtures.ts';

/**
 * Two transmitter instances of one deployment (one issuer, one signing key) sharing streams and
 * queues on one PostgreSQL, each with its own pool, as two broker processes would.
 */
describe('two transmitter instances on one PostgreSQL', () => {
  const prefix = uniquePrefix();
  const pools = [
    new pg.Pool({ connectionString: POSTGRES_URL, max: 4 }),
    new pg.Pool({ connectionString: POSTGRES_URL, max: 4 }),
  ];
  let key: SigningKey;
  let a: RunningTransmitter;
  let b: RunningTransmitter;
  let issuer: string;

  before(async () => {
    key = await signingKey();
    a = await startTransmitter({
      key: key.options,
      store: await SqlStreamStore.create({ pool: pools[0]!, tablePrefix: prefix }),
    });
    issuer = a.url;
    b = await startTransmitter({
      key: key.options,
      issuer,
      store: await SqlStreamStore.create({ pool: pools[1]!, tablePrefix: prefix }),
      pollCheckIntervalMs: 25,
    });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await pools[0]!.query(`DROP TABLE ${prefix}ssf_queue, ${prefix}ssf_streams, ${prefix}schema_migrations`);
    await Promise.all(pools.map((pool) => pool.end()));
  });

  const createPollStream = async (on: RunningTransmitter) => {
    const response = await on.call('/ssf/streams', {
      token: TOKEN_A,
      body: { delivery: { method: DELIVERY_METHODS.poll } },
    });
    assert.equal(response.status, 201);
    return ((await response.json()) as { stream_id: string }).stream_id;
  };

  const pollOn = async (on: RunningTransmitter, streamId: string, body: Record<string, unknown>) => {
    const response = await on.call(`/ssf/poll/${streamId}`, { token: TOKEN_A, body });
    assert.equal(response.status, 200);
    return (await response.json()) as { sets: Record<string, string> };
  };

  it('a stream created on A is read, polled and acknowledged on B after A publishes', async () => {
    const streamId = await createPollStream(a);
    const read = await b.call(`/ssf/streams?stream_id=${streamId}`, { token: TOKEN_A });
    assert.equal(read.status, 200);
    await a.transmitter.publish([{ kind: 'subject', value: 'alice' }]);
    const { sets } = await pollOn(b, streamId, { returnImmediately: true });
    const [jti, set] = Object.entries(sets)[0]!;
    const { payload } = await jwtVerify(set, key.jwks, {
      issuer,
      audience: 'receiver-a',
      typ: 'secevent+jwt',
    });
    assert.ok(EVENT_TYPES.accountDisabled in (payload.events as object));
    await pollOn(b, streamId, { ack: [jti], returnImmediately: true });
    assert.deepEqual(
      (await pollOn(a, streamId, { returnImmediately: true })).sets,
      {},
      'acknowledged on B is gone on A',
    );
  });

  it('a long poll on B answers with what A publishes', async () => {
    const streamId = await createPollStream(a);
    const waiting = pollOn(b, streamId, {});
    await a.transmitter.publish([{ kind: 'session', value: 'sid-42' }]);
    const { sets } = await waiting;
    assert.equal(Object.keys(sets).length, 1);
  });

  describe('push', () => {
    let receiver: PushReceiver;
    before(async () => {
      receiver = await startPushReceiver();
    });
    after(() => receiver.stop().catch(() => {}));

    it("B's retry loop redelivers a push that failed on A after A is gone", async () => {
      const response = await a.call('/ssf/streams', {
        token: TOKEN_A,
        body: { delivery: { method: DELIVERY_METHODS.push, endpoint_url: receiver.url } },
      });
      assert.equal(response.status, 201);
      receiver.answer = { status: 503 };
      await a.transmitter.publish([{ kind: 'client', value: 'leaked-service' }]);
      await a.transmitter.deliverDue();
      await a.close();
      receiver.answer = { status: 202 };
      await receiver.waitFor(1);
      const { payload } = await jwtVerify(receiver.received[0]!.set, key.jwks, {
        issuer,
        typ: 'secevent+jwt',
      });
      assert.deepEqual(payload.sub_id, { format: 'opaque', id: 'leaked-service' });
    });
  });
});
