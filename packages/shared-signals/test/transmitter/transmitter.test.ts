import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  DELIVERY_METHODS,
  EVENT_TYPES,
  REVOCATION_EVENT_TYPES,
  type Revocation,
  type StreamStore,
} from '../../src/index.ts';
import {
  type PushReceiver,
  type RunningTransmitter,
  type SigningKey,
  STORE_KINDS,
  signingKey,
  startPushReceiver,
  startTransmitter,
  TOKEN_A,
  TOKEN_B,
} from './fixtures.ts';

/** A stream configuration as the endpoint returns it (SSF 1.0 §8.1.1). */
interface StreamConfiguration extends Record<string, unknown> {
  stream_id: string;
  delivery: { method: string; endpoint_url?: string; authorization_header?: string };
}

const PUSH = DELIVERY_METHODS.push;
const POLL = DELIVERY_METHODS.poll;

/** The same behaviour on every stream store: the conformance suite of the transmitter. */
for (const kind of STORE_KINDS) {
  describe(`Shared Signals transmitter (${kind.name} store)`, () => {
    let key: SigningKey;
    let opened: Awaited<ReturnType<typeof kind.open>>;
    let store: StreamStore;
    let running: RunningTransmitter;
    let current: Revocation[];
    let refused: { jti: string; err: string }[];

    before(async () => {
      key = await signingKey();
    });

    beforeEach(async () => {
      opened = await kind.open();
      store = opened.store;
      current = [];
      refused = [];
      running = await startTransmitter({
        key: key.options,
        store,
        currentRevocations: async () => current,
        onSetRefused: (event) => refused.push(event),
      });
    });

    afterEach(async () => {
      await running.close();
      await opened.close();
    });

    const createStream = async (body: Record<string, unknown>, token = TOKEN_A) => {
      const response = await running.call('/ssf/streams', { body, token });
      assert.equal(response.status, 201, await response.clone().text());
      return (await response.json()) as StreamConfiguration;
    };

    const poll = async (streamId: string, body: Record<string, unknown>, token = TOKEN_A) => {
      const response = await running.call(`/ssf/poll/${streamId}`, { body, token });
      assert.equal(response.status, 200, await response.clone().text());
      return (await response.json()) as { sets: Record<string, string>; moreAvailable: boolean };
    };

    const verifySet = async (set: string, audience = 'receiver-a') => {
      const { payload, protectedHeader } = await jwtVerify(set, key.jwks, {
        issuer: running.url,
        audience,
        typ: 'secevent+jwt',
        algorithms: ['ES256'],
      });
      return { payload, protectedHeader };
    };

    it('publishes its metadata at /.well-known/ssf-configuration (SSF 1.0 §7)', async () => {
      const response = await running.call('/.well-known/ssf-configuration');
      assert.equal(response.status, 200);
      const metadata = (await response.json()) as Record<string, unknown>;
      assert.deepEqual(metadata, {
        spec_version: '1_0',
        issuer: running.url,
        jwks_uri: `${running.url}/jwks`,
        delivery_methods_supported: [PUSH, POLL],
        configuration_endpoint: `${running.url}/ssf/streams`,
        status_endpoint: `${running.url}/ssf/status`,
        verification_endpoint: `${running.url}/ssf/verify`,
        authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
      });
    });

    it('refuses a management request without credentials (401 Bearer challenge)', async () => {
      const response = await running.call('/ssf/streams', { body: { delivery: { method: POLL } } });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      const forged = await running.call('/ssf/streams', { token: 'forged' });
      assert.equal(forged.status, 401);
      assert.match(forged.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.deepEqual(await store.listStreams('receiver-a'), []);
    });

    it('creates, reads, updates and deletes a stream (SSF 1.0 §8.1.1)', async () => {
      const created = await createStream({
        delivery: { method: POLL },
        events_requested: [EVENT_TYPES.sessionRevoked, EVENT_TYPES.accountDisabled, 'urn:example:unknown'],
        description: 'orders MCP',
      });
      assert.equal(created.iss, running.url);
      assert.equal(created.aud, 'receiver-a', "the receiver's own id by default");
      assert.deepEqual(created.delivery, {
        method: POLL,
        endpoint_url: `${running.url}/ssf/poll/${created.stream_id}`,
      });
      assert.deepEqual(created.events_supported, REVOCATION_EVENT_TYPES);
      assert.deepEqual(created.events_delivered, [EVENT_TYPES.sessionRevoked, EVENT_TYPES.accountDisabled]);
      assert.equal(created.description, 'orders MCP');

      const read = await running.call(`/ssf/streams?stream_id=${created.stream_id}`, { token: TOKEN_A });
      assert.deepEqual(await read.json(), created);
      const listed = await running.call('/ssf/streams', { token: TOKEN_A });
      assert.deepEqual(await listed.json(), [created]);

      const patched = await running.call('/ssf/streams', {
        method: 'PATCH',
        token: TOKEN_A,
        body: { stream_id: created.stream_id, events_requested: [EVENT_TYPES.tokensRevoked] },
      });
      assert.equal(patched.status, 200);
      const afterPatch = (await patched.json()) as Record<string, unknown>;
      assert.deepEqual(afterPatch.events_delivered, [EVENT_TYPES.tokensRevoked]);
      assert.equal(afterPatch.description, 'orders MCP', 'PATCH keeps what it does not name');

      const replaced = await running.call('/ssf/streams', {
        method: 'PUT',
        token: TOKEN_A,
        body: { stream_id: created.stream_id, delivery: { method: POLL } },
      });
      assert.equal(replaced.status, 200);
      const afterPut = (await replaced.json()) as Record<string, unknown>;
      assert.equal(afterPut.description, undefined, 'PUT replaces');
      assert.deepEqual(afterPut.events_delivered, REVOCATION_EVENT_TYPES);

      const status = await running.call(`/ssf/status?stream_id=${created.stream_id}`, { token: TOKEN_A });
      assert.deepEqual(await status.json(), { stream_id: created.stream_id, status: 'enabled' });
      const paused = await running.call('/ssf/status', {
        token: TOKEN_A,
        body: { stream_id: created.stream_id, status: 'paused', reason: 'maintenance' },
      });
      assert.deepEqual(await paused.json(), {
        stream_id: created.stream_id,
        status: 'paused',
        reason: 'maintenance',
      });

      const deleted = await running.call(`/ssf/streams?stream_id=${created.stream_id}`, {
        method: 'DELETE',
        token: TOKEN_A,
      });
      assert.equal(deleted.status, 204);
      const gone = await running.call(`/ssf/streams?stream_id=${created.stream_id}`, { token: TOKEN_A });
      assert.equal(gone.status, 404);
    });

    it("refuses another receiver's reads, changes, polls, acknowledgements and deletes of a stream", async () => {
      const stream = await createStream({ delivery: { method: POLL } });
      const id = stream.stream_id as string;
      await running.transmitter.publish([{ kind: 'subject', value: 'alice' }]);
      const attempts = [
        running.call(`/ssf/streams?stream_id=${id}`, { token: TOKEN_B }),
        running.call('/ssf/streams', {
          method: 'PATCH',
          token: TOKEN_B,
          body: { stream_id: id, description: 'x' },
        }),
        running.call('/ssf/streams', { method: 'PUT', token: TOKEN_B, body: { stream_id: id } }),
        running.call(`/ssf/streams?stream_id=${id}`, { method: 'DELETE', token: TOKEN_B }),
        running.call(`/ssf/status?stream_id=${id}`, { token: TOKEN_B }),
        running.call('/ssf/status', { token: TOKEN_B, body: { stream_id: id, status: 'disabled' } }),
        running.call('/ssf/verify', { token: TOKEN_B, body: { stream_id: id, state: 'x' } }),
        running.call(`/ssf/poll/${id}`, { token: TOKEN_B, body: { returnImmediately: true } }),
      ];
      for (const response of await Promise.all(attempts)) {
        assert.equal(response.status, 404, 'answered as if the stream did not exist');
      }
      const listed = await running.call('/ssf/streams', { token: TOKEN_B });
      assert.deepEqual(await listed.json(), []);
      const still = await store.getStream(id);
      assert.equal(still?.status, 'enabled');
      assert.equal(still?.description, undefined);
      // Receiver B polls its own stream acknowledging A's SET: A's queue is untouched.
      const own = await createStream({ delivery: { method: POLL } }, TOKEN_B);
      const [jti] = Object.keys((await poll(id, { returnImmediately: true })).sets);
      await poll(own.stream_id, { ack: [jti], returnImmediately: true }, TOKEN_B);
      assert.deepEqual(Object.keys((await poll(id, { returnImmediately: true })).sets), [jti]);
    });

    it('refuses a push endpoint the allow-list does not admit, and an audience the receiver may not ask for', async () => {
      for (const body of [
        { delivery: { method: PUSH, endpoint_url: 'http://169.254.169.254/latest' } },
        { delivery: { method: PUSH, endpoint_url: 'http://user:pw@127.0.0.1/events' } },
        { delivery: { method: POLL }, aud: 'receiver-b' },
        { delivery: { method: 'urn:example:smoke-signals' } },
      ]) {
        const response = await running.call('/ssf/streams', { body, token: TOKEN_A });
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
      }
      assert.deepEqual(await store.listStreams('receiver-a'), []);
    });

    describe('push delivery (RFC 8935)', () => {
      let receiver: PushReceiver;
      beforeEach(async () => {
        receiver = await startPushReceiver();
      });
      afterEach(() => receiver.stop().catch(() => {}));

      it('pushes one signed SET per event, typ secevent+jwt, to the receiver with its Authorization', async () => {
        const stream = await createStream({
          delivery: {
            method: PUSH,
            endpoint_url: receiver.url,
            authorization_header: 'Bearer receiver-secret',
          },
        });
        assert.equal(stream.delivery.authorization_header, undefined, 'the receiver secret is write-only');
        const result = await running.transmitter.publish(
          [
            { kind: 'subject', value: 'bob', before: 1_700_000_000 },
            { kind: 'jti', value: 'token-1', until: 1_700_000_300 },
          ],
          { subjectIssuer: 'https://idp.example', reasonAdmin: 'offboarded' },
        );
        assert.deepEqual(result, { streams: 1, sets: 2 });
        await receiver.waitFor(2);
        const sets = await Promise.all(receiver.received.map(({ set }) => verifySet(set)));
        for (const delivered of receiver.received) {
          assert.equal(delivered.contentType, 'application/secevent+jwt');
          assert.equal(delivered.authorization, 'Bearer receiver-secret');
        }
        for (const { payload, protectedHeader } of sets) {
          assert.equal(protectedHeader.typ, 'secevent+jwt');
          assert.equal(protectedHeader.kid, 'ssf-key-1');
          assert.equal(Object.keys(payload.events as object).length, 1, 'one event per SET');
          assert.equal(typeof payload.jti, 'string');
          assert.equal(typeof payload.iat, 'number');
          assert.equal(payload.sub, undefined);
          assert.equal(payload.exp, undefined);
        }
        const types = sets.map(({ payload }) => Object.keys(payload.events as object)[0]).sort();
        assert.deepEqual(types, [EVENT_TYPES.sessionRevoked, EVENT_TYPES.tokensRevoked].sort());
        const session = sets.find(({ payload }) => EVENT_TYPES.sessionRevoked in (payload.events as object))!;
        assert.deepEqual(session.payload.sub_id, {
          format: 'iss_sub',
          iss: 'https://idp.example',
          sub: 'bob',
        });
        assert.equal(sets[0]!.payload.txn, sets[1]!.payload.txn, 'one txn per publish');
        await running.transmitter.deliverDue();
        assert.deepEqual(
          await store.pending(stream.stream_id, 10, false),
          [],
          'delivered SETs leave the queue',
        );
      });

      it('redelivers a SET to a receiver that was down when it was published, once it is back', async () => {
        const stream = await createStream({ delivery: { method: PUSH, endpoint_url: receiver.url } });
        await receiver.stop();
        await running.transmitter.publish([{ kind: 'client', value: 'compromised-agent' }]);
        assert.equal((await store.pending(stream.stream_id, 10, false)).length, 1, 'held while unreachable');
        await running.transmitter.deliverDue();
        assert.equal((await store.pending(stream.stream_id, 10, false)).length, 1, 'never dropped');
        await receiver.restart();
        await receiver.waitFor(1);
        const { payload } = await verifySet(receiver.received[0]!.set);
        assert.deepEqual(payload.sub_id, { format: 'opaque', id: 'compromised-agent' });
      });

      it('retries a 5xx, and drops (recording why) a SET the receiver refuses for good with 400 err', async () => {
        const stream = await createStream({ delivery: { method: PUSH, endpoint_url: receiver.url } });
        receiver.answer = { status: 503 };
        await running.transmitter.publish([{ kind: 'subject', value: 'carol' }]);
        await running.transmitter.deliverDue();
        assert.equal((await store.pending(stream.stream_id, 10, false)).length, 1, 'a 503 is retried');
        receiver.answer = { status: 400, body: { err: 'invalid_audience', description: 'not for me' } };
        while ((await store.pending(stream.stream_id, 10, false)).length)
          await running.transmitter.deliverDue();
        assert.equal(refused.length, 1);
        assert.equal(refused[0]!.err, 'invalid_audience');
        const recorded = await store.getStream(stream.stream_id);
        assert.equal(recorded?.lastError?.err, 'invalid_audience');
      });

      it('delivers a verification SET with the receiver state (SSF 1.0 §8.1.4)', async () => {
        const stream = await createStream({ delivery: { method: PUSH, endpoint_url: receiver.url } });
        const response = await running.call('/ssf/verify', {
          token: TOKEN_A,
          body: { stream_id: stream.stream_id, state: 'nonce-42' },
        });
        assert.equal(response.status, 204);
        await receiver.waitFor(1);
        const { payload } = await verifySet(receiver.received[0]!.set);
        assert.deepEqual(payload.events, { [EVENT_TYPES.verification]: { state: 'nonce-42' } });
        assert.deepEqual(payload.sub_id, { format: 'opaque', id: stream.stream_id });
      });
    });

    describe('poll delivery (RFC 8936)', () => {
      it('redelivers what is not acknowledged, and never what is', async () => {
        const stream = await createStream({ delivery: { method: POLL } });
        const id = stream.stream_id as string;
        await running.transmitter.publish([
          { kind: 'subject', value: 'alice' },
          { kind: 'session', value: 'sid-1' },
        ]);
        const first = await poll(id, { returnImmediately: true, maxEvents: 1 });
        assert.equal(Object.keys(first.sets).length, 1);
        assert.equal(first.moreAvailable, true);
        const again = await poll(id, { returnImmediately: true });
        assert.equal(Object.keys(again.sets).length, 2, 'un-acknowledged SETs come again');
        for (const set of Object.values(again.sets)) await verifySet(set);
        const [acked, kept] = Object.keys(again.sets) as [string, string];
        const third = await poll(id, { ack: [acked], returnImmediately: true });
        assert.deepEqual(Object.keys(third.sets), [kept]);
        const last = await poll(id, { ack: [kept], setErrs: {}, returnImmediately: true });
        assert.deepEqual(last, { sets: {}, moreAvailable: false });
      });

      it('holds a long poll until an event is published', async () => {
        const stream = await createStream({ delivery: { method: POLL } });
        const waiting = poll(stream.stream_id, {});
        await running.transmitter.publish([{ kind: 'subject', value: 'dave', before: 1_700_000_000 }]);
        const answer = await waiting;
        const [set] = Object.values(answer.sets);
        assert.ok(set, 'the long poll answered with the published SET');
        const { payload } = await verifySet(set);
        assert.ok(EVENT_TYPES.sessionRevoked in (payload.events as object));
      });

      it('never pauses a stream in silence: the poll answers a stream-updated SET saying paused (and nothing else), then enabled', async () => {
        const stream = await createStream({ delivery: { method: POLL } });
        const id = stream.stream_id as string;
        const status = (value: string) =>
          running.call('/ssf/status', { token: TOKEN_A, body: { stream_id: id, status: value } });
        assert.equal((await status('paused')).status, 200);
        await running.transmitter.publish([{ kind: 'subject', value: 'held-while-paused' }]);
        const paused = await poll(id, { returnImmediately: true });
        const held = await Promise.all(
          Object.values(paused.sets).map(async (set) => (await verifySet(set)).payload.events),
        );
        assert.deepEqual(held, [{ [EVENT_TYPES.streamUpdated]: { status: 'paused' } }]);
        assert.equal((await status('enabled')).status, 200);
        const enabled = await poll(id, { ack: Object.keys(paused.sets), returnImmediately: true });
        const events = await Promise.all(
          Object.values(enabled.sets).map(
            async (set) => Object.keys((await verifySet(set)).payload.events as object)[0],
          ),
        );
        assert.deepEqual(events.sort(), [EVENT_TYPES.accountDisabled, EVENT_TYPES.streamUpdated].sort());
      });

      it('seeds a new stream with every revocation still in force', async () => {
        current = [
          { kind: 'subject', value: 'alice' },
          { kind: 'client', value: 'rogue-agent', before: 1_700_000_000 },
        ];
        const stream = await createStream({ delivery: { method: POLL } });
        const answer = await poll(stream.stream_id, { returnImmediately: true });
        const events = await Promise.all(
          Object.values(answer.sets).map(async (set) => (await verifySet(set)).payload.events as object),
        );
        assert.deepEqual(
          events.map((event) => Object.keys(event)[0]).sort(),
          [EVENT_TYPES.accountDisabled, EVENT_TYPES.clientRevoked].sort(),
        );
      });

      it('seeds a new stream with everything in force even beyond the queue bound: a receiver never starts disabled', async () => {
        await running.close();
        running = await startTransmitter({
          key: key.options,
          store,
          maxQueueLength: 3,
          currentRevocations: async () => current,
        });
        current = ['a', 'b', 'c', 'd', 'e'].map((value) => ({ kind: 'subject', value }) as Revocation);
        try {
          const stream = await createStream({ delivery: { method: POLL } });
          const status = await running.call(`/ssf/status?stream_id=${stream.stream_id}`, { token: TOKEN_A });
          assert.equal(((await status.json()) as { status: string }).status, 'enabled');
          const answer = await poll(stream.stream_id, { returnImmediately: true });
          assert.equal(Object.keys(answer.sets).length, 5);
        } finally {
          current = [];
        }
      });

      it('disables a stream whose queue exceeds the bound, with a stream-updated SET saying why', async () => {
        await running.close();
        running = await startTransmitter({ key: key.options, store, maxQueueLength: 3 });
        const stream = await createStream({ delivery: { method: POLL } });
        const id = stream.stream_id as string;
        await running.transmitter.publish(
          ['a', 'b', 'c', 'd'].map((value) => ({ kind: 'subject', value }) as Revocation),
        );
        const status = await running.call(`/ssf/status?stream_id=${id}`, { token: TOKEN_A });
        const body = (await status.json()) as { status: string; reason: string };
        assert.equal(body.status, 'disabled');
        assert.match(body.reason, /more than 3 SETs/);
        const answer = await poll(id, { returnImmediately: true });
        const sets = Object.values(answer.sets);
        assert.equal(sets.length, 1, 'the queue is dropped; only the notice remains');
        const { payload } = await verifySet(sets[0]!);
        assert.deepEqual(payload.events, {
          [EVENT_TYPES.streamUpdated]: { status: 'disabled', reason: body.reason },
        });
        const publishedLater = await running.transmitter.publish([{ kind: 'subject', value: 'e' }]);
        assert.deepEqual(publishedLater, { streams: 0, sets: 0 }, 'a disabled stream takes nothing more');
        const patched = await running.call('/ssf/streams', {
          method: 'PATCH',
          token: TOKEN_A,
          body: { stream_id: id, description: 'still here' },
        });
        assert.equal(patched.status, 200);
        assert.equal(
          (await store.getStream(id))?.status,
          'disabled',
          'a configuration change keeps the status',
        );
        const enabled = await running.call('/ssf/status', {
          token: TOKEN_A,
          body: { stream_id: id, status: 'enabled' },
        });
        assert.equal(((await enabled.json()) as { status: string }).status, 'enabled');
        assert.equal((await store.getStream(id))?.reason, undefined);
      });

      it('refuses a poll body that is not an RFC 8936 request', async () => {
        const stream = await createStream({ delivery: { method: POLL } });
        const response = await running.call(`/ssf/poll/${stream.stream_id}`, {
          token: TOKEN_A,
          body: { ack: 'not-a-list' },
        });
        assert.equal(response.status, 400);
      });
    });

    it('deletes a stream whose receiver has not been seen for the inactivity timeout, and keeps an active one', async () => {
      await running.close();
      let clock = Date.now();
      running = await startTransmitter({
        key: key.options,
        store,
        inactivityTimeoutSeconds: 60,
        now: () => clock,
      });
      const idle = await createStream({ delivery: { method: POLL } });
      const active = await createStream({ delivery: { method: POLL } });
      clock += 45_000;
      await poll(active.stream_id, { returnImmediately: true });
      clock += 30_000;
      assert.deepEqual(await running.transmitter.expireInactive(), [idle.stream_id]);
      assert.equal(await store.getStream(idle.stream_id), undefined);
      assert.equal((await store.getStream(active.stream_id))?.status, 'enabled');
    });

    it('minted SETs decode to the SSF 1.0 shape', async () => {
      const stream = await createStream({ delivery: { method: POLL } });
      await running.transmitter.publish([{ kind: 'session', value: 'sid-9' }]);
      const [set] = Object.values((await poll(stream.stream_id, { returnImmediately: true })).sets);
      assert.equal(decodeProtectedHeader(set!).typ, 'secevent+jwt');
      const claims = decodeJwt(set!);
      assert.deepEqual(claims.sub_id, { format: 'complex', session: { format: 'opaque', id: 'sid-9' } });
    });
  });
}

describe('SharedSignalsTransmitter construction', () => {
  it('refuses to be built without receiver authentication, a seed source, a key or absolute URLs', async () => {
    const key = await signingKey();
    const good = {
      issuer: 'https://broker.example',
      jwksUri: 'https://broker.example/jwks',
      key: key.options,
      authenticate: async () => undefined,
      currentRevocations: async () => [],
    };
    const { SharedSignalsTransmitter } = await import('../../src/index.ts');
    for (const bad of [
      { ...good, authenticate: undefined },
      { ...good, currentRevocations: undefined },
      { ...good, key: { ...key.options, kid: undefined } },
      { ...good, issuer: 'broker.example' },
      { ...good, maxQueueLength: 0 },
    ]) {
      assert.throws(() => new SharedSignalsTransmitter(bad as never), TypeError);
    }
    await new SharedSignalsTransmitter(good).close();
  });
});
