import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryReplayGuard, RevocationFeed, RevocationList, SetRefused } from '../src/index.ts';

describe('RevocationFeed', () => {
  it('is never stale without sources (the broker in process) and admits with undefined', () => {
    const feed = new RevocationFeed();
    assert.equal(feed.stale, false);
    assert.equal(feed.check({ sub: 'alice', iat: 1 }), undefined);
  });

  it('fails closed until a source is first heard from, then goes stale after maxStalenessMs of silence', () => {
    let clock = 0;
    const feed = new RevocationFeed({ maxStalenessMs: 1_000, now: () => clock });
    const source = feed.source('poll');
    assert.deepEqual(feed.check({ sub: 'alice' }), { reason: 'revocation_feed_stale', fallback: 'refuse' });
    source.heard();
    assert.equal(feed.check({ sub: 'alice' }), undefined);
    clock = 1_000;
    assert.equal(feed.check({ sub: 'alice' }), undefined);
    clock = 1_001;
    assert.equal(feed.check({ sub: 'alice' })?.reason, 'revocation_feed_stale');
    source.heard();
    assert.equal(feed.check({ sub: 'alice' }), undefined);
    source.lost();
    assert.equal(
      feed.check({ sub: 'alice' })?.reason,
      'revocation_feed_stale',
      'a lost connection is stale at once',
    );
    source.remove();
    assert.equal(feed.check({ sub: 'alice' }), undefined);
  });

  it('is stale when any one of its sources is, and says which', () => {
    let clock = 0;
    const feed = new RevocationFeed({ maxStalenessMs: 1_000, whenStale: 'introspect', now: () => clock });
    feed.source('push').heard();
    const redis = feed.source('redis');
    redis.heard();
    clock = 500;
    redis.lost();
    assert.deepEqual(feed.check({ jti: 'x' }), { reason: 'revocation_feed_stale', fallback: 'introspect' });
    assert.deepEqual(
      feed.freshness.sources.map(({ name, stale }) => [name, stale]),
      [
        ['push', false],
        ['redis', true],
      ],
    );
  });

  it('answers a revocation before staleness, and the full list before both', () => {
    const feed = new RevocationFeed({ list: new RevocationList({ maxEntries: 1 }) });
    feed.source('poll');
    feed.list.add([{ kind: 'jti', value: 'a' }]);
    assert.equal(feed.check({ jti: 'a' })?.reason, 'token_revoked');
    assert.equal(feed.check({ jti: 'b' })?.reason, 'revocation_feed_stale');
    feed.list.add([{ kind: 'jti', value: 'b' }]);
    assert.deepEqual(feed.check({ jti: 'c' }), { reason: 'revocation_list_full' });
  });

  it('refuses bad options at construction', () => {
    assert.throws(() => new RevocationFeed({ maxStalenessMs: 0 }), TypeError);
    assert.throws(() => new RevocationFeed({ whenStale: 'admit' as 'refuse' }), TypeError);
  });
});

describe('MemoryReplayGuard and SetRefused', () => {
  it('takes a key once until it expires, and never forgets a live key to make room', () => {
    let clock = 0;
    const guard = new MemoryReplayGuard({ maxEntries: 2, now: () => clock });
    assert.equal(guard.claim('a', 100), true);
    assert.equal(guard.claim('a', 100), false);
    assert.equal(guard.claim('b', 200), true);
    assert.throws(() => guard.claim('c', 300), RangeError);
    clock = 150;
    assert.equal(guard.claim('c', 300), true, 'an expired key made room');
    clock = 250;
    assert.equal(guard.claim('a', 400), true, 'an expired key can be taken again');
  });

  it('serialises without its private reason and detail', () => {
    const error = new SetRefused('invalid_key', 'signature_invalid', 'bad signature', { detail: 'kid tx-1' });
    assert.deepEqual(JSON.parse(JSON.stringify(error)), {
      name: 'SetRefused',
      code: 'ERR_SET_REFUSED',
      err: 'invalid_key',
      description: 'bad signature',
    });
  });
});
