import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  connectRevocationFeed,
  EVENT_TYPES,
  type PushHandler,
  REVOCATION_EVENT_TYPES,
} from '../src/index.ts';
import { PollServer } from './fixtures/poll-server.ts';
import { type Keys, revokedTokenOf, serve, subjectEvent, transmitterKeys, until } from './fixtures/sets.ts';
import { TestTransmitter } from './fixtures/transmitter.ts';

describe('connectRevocationFeed (SSF 1.0 stream management)', () => {
  let keys: Keys;
  let poll: PollServer;
  let transmitter: TestTransmitter;

  before(async () => {
    keys = await transmitterKeys();
    poll = await new PollServer().start();
    transmitter = await new TestTransmitter(keys, poll).start();
  });
  after(async () => {
    await transmitter.close();
    await poll.close();
  });

  it('discovers the transmitter, creates a poll stream and applies what it delivers', async () => {
    const connected = await connectRevocationFeed({
      transmitter: transmitter.url,
      getAccessToken: () => poll.token,
      delivery: 'poll',
      maxStalenessMs: 30_000,
      deleteStreamOnClose: true,
    });
    try {
      assert.equal(connected.metadata.issuer, transmitter.url);
      assert.equal(connected.stream.delivery.method, 'urn:ietf:rfc:8936');
      assert.deepEqual(transmitter.stream?.events_requested, [...REVOCATION_EVENT_TYPES]);
      const { jti } = await transmitter.send();
      await until(() => connected.feed.list.check({ jti: revokedTokenOf(jti) }) !== undefined, 'the SET');
      assert.equal(connected.feed.check({ jti: 'other' }), undefined, 'fresh');
      await until(() => poll.acknowledged.has(jti), 'its acknowledgement');
    } finally {
      await connected.close();
    }
    assert.equal(transmitter.deleted, true);
  });

  it('creates a push stream with a random authorization header, proves liveness by verification, and refuses a push without it', async () => {
    let handler: PushHandler | undefined;
    const endpoint = await serve((request) =>
      handler ? handler(request) : Promise.resolve(new Response(null, { status: 503 })),
    );
    const connected = await connectRevocationFeed({
      transmitter: transmitter.url,
      getAccessToken: () => poll.token,
      delivery: { push: `${endpoint.url}/ssf/push` },
      maxStalenessMs: 30_000,
    });
    handler = connected.pushHandler;
    try {
      const delivery = transmitter.stream?.delivery as { authorization_header?: string } | undefined;
      const authorization = delivery?.authorization_header;
      assert.match(authorization ?? '', /^Bearer [\w-]{43}$/);
      // The first verification request goes out once the handler is wired (after this continuation).
      await until(() => !connected.feed.stale, 'the verification event');
      assert.equal(transmitter.verifications, 1);
      assert.match(connected.feed.freshness.lastVerification?.state ?? '', /^[\w-]{43}$/);
      await connected.requestVerification();
      assert.equal(transmitter.verifications, 2);
      assert.equal(connected.feed.stale, false);
      const pushed = await transmitter.send(subjectEvent(EVENT_TYPES.accountDisabled, 'gina'));
      assert.equal(pushed.status, 202);
      assert.equal(connected.feed.check({ sub: 'gina', iat: 1 })?.reason, 'subject_revoked');
      const stolen = await transmitter.send(
        subjectEvent(EVENT_TYPES.accountEnabled, 'gina'),
        'Bearer guessed',
      );
      assert.equal(stolen.status, 400);
      assert.equal(connected.feed.check({ sub: 'gina', iat: 1 })?.reason, 'subject_revoked');
    } finally {
      await connected.close();
      await endpoint.close();
    }
  });

  it('refuses a transmitter whose metadata names another issuer', async () => {
    await assert.rejects(
      connectRevocationFeed({
        transmitter: `${transmitter.url}/elsewhere`,
        getAccessToken: () => poll.token,
        delivery: 'poll',
        maxStalenessMs: 30_000,
      }),
      (error: Error & { code?: string }) =>
        error.code === 'ERR_SSF_STREAM_REQUEST_FAILED' && /another issuer/.test(error.message),
    );
  });
  // Metadata for a transmitter on loopback (so the transmitter URL itself is accepted) naming `fields`.
  const posing = (fields: Record<string, string>) =>
    serve(async (request) =>
      new URL(request.url).pathname === '/.well-known/ssf-configuration'
        ? Response.json({
            issuer: new URL(request.url).origin,
            jwks_uri: `${new URL(request.url).origin}/jwks`,
            configuration_endpoint: `${new URL(request.url).origin}/ssf/stream`,
            delivery_methods_supported: ['urn:ietf:rfc:8936'],
            ...fields,
          })
        : new Response(null, { status: 404 }),
    );

  for (const field of ['jwks_uri', 'configuration_endpoint', 'status_endpoint', 'verification_endpoint']) {
    it(`refuses a transmitter whose metadata names an http ${field} off loopback`, async () => {
      const attacker = await posing({ [field]: 'http://transmitter.example/endpoint' });
      let asked = false;
      try {
        await assert.rejects(
          connectRevocationFeed({
            transmitter: attacker.url,
            getAccessToken: () => {
              asked = true;
              return poll.token;
            },
            delivery: 'poll',
            maxStalenessMs: 30_000,
          }),
          (error: Error & { code?: string }) =>
            error.code === 'ERR_SSF_STREAM_REQUEST_FAILED' &&
            error.message ===
              `transmitter metadata failed: ${field} must be https (plain http only on loopback)`,
        );
        assert.equal(asked, false, 'no token was asked for, so none was sent');
      } finally {
        await attacker.close();
      }
    });
  }

  it('refuses an http transmitter off loopback before asking it anything', async () => {
    await assert.rejects(
      connectRevocationFeed({
        transmitter: 'http://transmitter.example',
        getAccessToken: () => poll.token,
        delivery: 'poll',
        maxStalenessMs: 30_000,
        fetch: () => Promise.reject(new Error('fetched')),
      }),
      { name: 'TypeError', message: 'the transmitter must be https (plain http only on loopback)' },
    );
  });
});
