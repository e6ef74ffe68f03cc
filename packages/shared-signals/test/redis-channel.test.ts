import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { RevocationFeed, RevocationList } from '../src/index.ts';
import { RedisRevocationChannel } from '../src/redis/index.ts';
import { until } from './fixtures/sets.ts';
import { TcpProxy } from './fixtures/tcp-proxy.ts';

const REDIS = 'redis://127.0.0.1:6379';

describe('Redis revocation channel', () => {
  const redis = createClient({ url: REDIS });
  const keys: string[] = [];
  const key = () => {
    const name = `baton-test:revocations:${randomUUID()}`;
    keys.push(name);
    return name;
  };
  before(async () => {
    redis.on('error', () => {});
    await redis.connect();
  });
  after(async () => {
    if (keys.length) await redis.del(keys);
    await redis.close();
  });

  it('reaches two subscribers, and one disconnected during a publish goes stale, reconnects and catches up', async (t) => {
    const stream = key();
    const publisher = new RedisRevocationChannel({ redis: REDIS, key: stream });
    const proxy = await new TcpProxy('127.0.0.1', 6379).up();
    const cut = new RedisRevocationChannel({ redis: `redis://127.0.0.1:${proxy.port}`, key: stream });
    const direct = new RedisRevocationChannel({ redis: REDIS, key: stream });
    t.after(async () => {
      await Promise.all([publisher.close(), cut.close(), direct.close()]);
      await proxy.down();
    });
    const a = new RevocationFeed({ maxStalenessMs: 30_000 });
    const b = new RevocationFeed({ maxStalenessMs: 30_000 });
    direct.subscribe(a, { backoff: { initialMs: 5, maxMs: 50 } });
    cut.subscribe(b, { backoff: { initialMs: 5, maxMs: 50 } });

    await publisher.publish({ add: [{ kind: 'jti', value: 'token-1', until: now() + 600 }], lift: [] });
    await until(
      () => a.list.check({ jti: 'token-1' }) !== undefined && b.list.check({ jti: 'token-1' }) !== undefined,
      'both',
    );
    assert.equal(b.check({ jti: 'token-1' })?.reason, 'token_revoked');
    assert.equal(b.check({ jti: 'other' }), undefined, 'fresh after its first read');

    await proxy.down();
    await until(() => b.stale, 'the cut subscriber to go stale');
    assert.deepEqual(b.check({ jti: 'other' }), { reason: 'revocation_feed_stale', fallback: 'refuse' });
    await publisher.publish({ add: [{ kind: 'subject', value: 'bob' }], lift: [] });
    await until(() => a.list.check({ sub: 'bob' }) !== undefined, 'the connected subscriber');
    assert.equal(b.list.check({ sub: 'bob' }), undefined);

    await proxy.up();
    await until(() => b.list.check({ sub: 'bob' }) !== undefined, 'the cut subscriber to catch up');
    await until(() => !b.stale, 'the cut subscriber to be fresh');
    assert.equal(b.check({ sub: 'bob', iat: 1 })?.reason, 'subject_revoked');
  });

  it('lets a new subscriber catch up on every retained entry, lifts included', async (t) => {
    const stream = key();
    const channel = new RedisRevocationChannel({ redis: REDIS, key: stream });
    t.after(() => channel.close());
    await channel.publish({ add: [{ kind: 'client', value: 'orders-mcp' }], lift: [] });
    await channel.publish({ add: [{ kind: 'subject', value: 'carol', at: now() - 60 }], lift: [] });
    await channel.publish({ add: [], lift: [{ kind: 'subject', value: 'carol', at: now() - 30 }] });
    const last = await channel.publish({
      add: [{ kind: 'session', value: 's-1', until: now() + 60 }],
      lift: [],
    });
    const list = new RevocationList();
    const subscription = channel.subscribe(list);
    await until(() => subscription.lastId === last, 'the last entry');
    assert.equal(list.check({ client_id: 'orders-mcp' })?.reason, 'client_revoked');
    // Lifted: carol's tokens from after the lift pass, those from before stay refused.
    assert.equal(list.check({ sub: 'carol', iat: now() }), undefined);
    assert.equal(list.check({ sub: 'carol', iat: now() - 3_600 })?.reason, 'subject_revoked');
    assert.equal(list.check({ sid: 's-1' })?.reason, 'session_revoked');
  });

  it('uses a client it is given (a duplicate for the blocking reads) and skips an entry that is not a change', async (t) => {
    const stream = key();
    const channel = new RedisRevocationChannel({ redis, key: stream });
    t.after(() => channel.close());
    await redis.sendCommand([
      'XADD',
      stream,
      '*',
      'change',
      '{"add":[{"kind":"everything","value":"x"}],"lift":[]}',
    ]);
    const last = await channel.publish({ add: [{ kind: 'jti', value: 'token-2' }], lift: [] });
    const errors: unknown[] = [];
    const feed = new RevocationFeed();
    const subscription = channel.subscribe(feed, { onerror: (error) => errors.push(error) });
    await until(() => subscription.lastId === last, 'the last entry');
    assert.equal(feed.check({ jti: 'token-2' })?.reason, 'token_revoked');
    assert.equal(feed.list.size, 1);
    assert.equal(errors.length, 1);
    assert.ok(redis.isReady, "the caller's client stays open");
  });
});

function now(): number {
  return Math.floor(Date.now() / 1000);
}
