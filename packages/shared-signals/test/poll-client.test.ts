import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AppliedSet, EVENT_TYPES, MemoryReplayGuard, PollClient, RevocationFeed } from '../src/index.ts';
import { PollServer } from './fixtures/poll-server.ts';
import {
  AUDIENCE,
  ISSUER,
  type Keys,
  mintSet,
  revokedTokenOf,
  subjectEvent,
  transmitterKeys,
  until,
} from './fixtures/sets.ts';

describe('RFC 8936 poll client', () => {
  let key: Keys;
  let attacker: Keys;
  let server: PollServer;

  before(async () => {
    key = await transmitterKeys();
    attacker = await transmitterKeys(key.kid);
    server = await new PollServer().start();
  });
  after(() => server.close());

  function client(feed: RevocationFeed, extra: Partial<ConstructorParameters<typeof PollClient>[0]> = {}) {
    return new PollClient({
      endpoint: server.url,
      getAccessToken: () => server.token,
      feed,
      verify: { issuer: ISSUER, audience: AUDIENCE, keys: key.keys, replay: new MemoryReplayGuard() },
      backoff: { initialMs: 5, maxMs: 20 },
      ...extra,
    });
  }

  it('applies the SETs it receives and acknowledges them on the next request, not before', async () => {
    const feed = new RevocationFeed();
    const poll = client(feed);
    const one = await mintSet(key);
    const two = await mintSet(key, subjectEvent(EVENT_TYPES.sessionRevoked, 'dave'));
    server.add(one.jti, one.jwt);
    server.add(two.jti, two.jwt);
    assert.deepEqual(await poll.pollOnce(), { applied: 2, moreAvailable: false });
    assert.equal(feed.check({ jti: revokedTokenOf(one.jti) })?.reason, 'token_revoked');
    assert.equal(feed.check({ sub: 'dave', iat: 1 })?.reason, 'subject_revoked');
    assert.equal(server.acknowledged.has(one.jti), false, 'not acknowledged in the request that received it');
    await poll.pollOnce();
    assert.ok(server.acknowledged.has(one.jti) && server.acknowledged.has(two.jti));
    assert.equal(server.pending.size, 0);
    await poll.close();
  });

  it('reports a SET that fails verification in setErrs and does not apply it', async () => {
    const feed = new RevocationFeed();
    const poll = client(feed);
    const forged = await mintSet(attacker, subjectEvent(EVENT_TYPES.accountDisabled, 'erin'));
    const wrongAudience = await mintSet(key, { aud: 'https://elsewhere.test' });
    const good = await mintSet(key);
    server.add(forged.jti, forged.jwt);
    server.add(wrongAudience.jti, wrongAudience.jwt);
    server.add(good.jti, good.jwt);
    assert.equal((await poll.pollOnce()).applied, 1);
    assert.equal(feed.check({ sub: 'erin', iat: 1 }), undefined);
    await poll.pollOnce();
    assert.equal(server.setErrs.get(forged.jti)?.err, 'invalid_key');
    assert.equal(server.setErrs.get(wrongAudience.jti)?.err, 'invalid_audience');
    assert.ok(server.acknowledged.has(good.jti));
    for (const error of server.setErrs.values()) {
      assert.ok(!error.description.includes(forged.jwt.split('.')[1] ?? forged.jwt), 'no SET in setErrs');
    }
    await poll.close();
  });

  it('replay guard full: a SET it cannot take now is neither reported as refused (the transmitter would drop it) nor acknowledged, the SETs after it wait, and the feed is stale until it is taken', async () => {
    const feed = new RevocationFeed();
    let full = true;
    const guard = new MemoryReplayGuard();
    const poll = client(feed, {
      verify: {
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: key.keys,
        replay: {
          claim: (jti: string, until: number) => {
            if (full) throw new RangeError('full');
            return guard.claim(jti, until);
          },
        },
      },
    });
    const blocked = await mintSet(key, subjectEvent(EVENT_TYPES.accountDisabled, 'grace'));
    const after = await mintSet(key);
    server.add(blocked.jti, blocked.jwt);
    server.add(after.jti, after.jwt);
    await assert.rejects(poll.pollOnce());
    assert.equal(feed.check({ jti: 'x' })?.reason, 'revocation_feed_stale');
    await assert.rejects(poll.pollOnce());
    assert.equal(server.setErrs.has(blocked.jti), false, "never reported as the SET's error");
    assert.equal(server.acknowledged.has(blocked.jti) || server.acknowledged.has(after.jti), false);
    full = false;
    assert.equal((await poll.pollOnce()).applied, 2);
    assert.equal(feed.check({ sub: 'grace', iat: 1 })?.reason, 'subject_revoked');
    await poll.pollOnce();
    assert.ok(server.acknowledged.has(blocked.jti) && server.acknowledged.has(after.jti));
    await poll.close();
  });

  it('loses nothing when the receiver crashes mid-batch: what was not acknowledged comes again', async () => {
    const set = await mintSet(key);
    server.add(set.jti, set.jwt);
    const crashed = client(new RevocationFeed());
    assert.equal((await crashed.pollOnce()).applied, 1);
    // The process dies here: the acknowledgement was never sent.
    const feed = new RevocationFeed();
    const restarted = client(feed);
    assert.equal((await restarted.pollOnce()).applied, 1);
    assert.equal(feed.check({ jti: revokedTokenOf(set.jti) })?.reason, 'token_revoked');
    await restarted.pollOnce();
    assert.ok(server.acknowledged.has(set.jti));
  });

  it('keeps acknowledgements until a request carrying them succeeds, and acknowledges a redelivered SET without applying it twice', async () => {
    const applied: AppliedSet[] = [];
    const poll = client(new RevocationFeed(), { onApplied: (set) => applied.push(set) });
    const set = await mintSet(key);
    server.add(set.jti, set.jwt);
    await poll.pollOnce();
    server.down = true;
    await assert.rejects(poll.pollOnce());
    server.down = false;
    // The transmitter did not get the ack, so it delivers the SET again with this answer.
    await poll.pollOnce();
    await poll.pollOnce();
    assert.ok(server.acknowledged.has(set.jti));
    assert.equal(applied.filter((one) => one.jti === set.jti).length, 1);
    await poll.close();
  });

  it('goes stale when the poll endpoint goes away, and catches up without losing an event when it is back', async (t) => {
    let clock = 5_000_000;
    const feed = new RevocationFeed({ maxStalenessMs: 10_000, whenStale: 'introspect', now: () => clock });
    const errors: unknown[] = [];
    const poll = client(feed, { onerror: (error) => errors.push(error) });
    t.after(() => poll.close());
    assert.deepEqual(feed.check({ sub: 'x' }), { reason: 'revocation_feed_stale', fallback: 'introspect' });
    const before = await mintSet(key);
    server.add(before.jti, before.jwt);
    poll.start();
    await until(() => feed.list.check({ jti: revokedTokenOf(before.jti) }) !== undefined, 'the first SET');
    assert.equal(feed.check({ sub: 'x' }), undefined);

    server.down = true;
    const failures = errors.length;
    await until(() => errors.length > failures, 'a failed poll');
    clock += 10_001;
    assert.deepEqual(feed.check({ sub: 'x' }), { reason: 'revocation_feed_stale', fallback: 'introspect' });
    assert.equal(feed.freshness.sources[0]?.stale, true);

    const during = await mintSet(key, subjectEvent(EVENT_TYPES.accountDisabled, 'frank'));
    server.add(during.jti, during.jwt);
    server.down = false;
    await until(() => feed.list.check({ sub: 'frank', iat: 1 }) !== undefined, 'the SET sent while away');
    assert.equal(feed.check({ sub: 'frank', iat: 1 })?.reason, 'subject_revoked');
    assert.equal(feed.check({ sub: 'x' }), undefined, 'fresh again');
    await until(() => server.acknowledged.has(during.jti), 'its acknowledgement');
    await poll.close();
  });

  it('never puts the bearer token or a SET in what it reports', async () => {
    const errors: unknown[] = [];
    const poll = client(new RevocationFeed(), { onerror: (error) => errors.push(error) });
    const forged = await mintSet(attacker);
    server.add(forged.jti, forged.jwt);
    await poll.pollOnce();
    await poll.close();
    assert.ok(errors.length > 0);
    for (const error of errors) {
      const text = `${String(error)} ${JSON.stringify(error)}`;
      assert.ok(!text.includes(server.token) && !text.includes(forged.jwt.split('.')[2] ?? forged.jwt));
    }
  });
});
