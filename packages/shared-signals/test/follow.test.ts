import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  followRevocations,
  type RevocationFollower,
  RevocationList,
  type RevocationTest,
  revocationTest,
  type TokenProvenance,
} from '../src/index.ts';

/** A follower that holds provenances and drops those the test covers, as a cache does. */
function follower(entries: Record<string, TokenProvenance>, failing = false) {
  const held = new Map(Object.entries(entries));
  const cache: RevocationFollower & { held: Map<string, TokenProvenance>; revoked?: RevocationTest } = {
    held,
    async dropRevoked(revoked) {
      cache.revoked = revoked;
      if (failing) throw new Error('store down');
      for (const [key, provenance] of held) if (revoked(provenance)) held.delete(key);
    },
  };
  return cache;
}

describe('revocationTest: a provenance against the list, by RevocationList.check rules', () => {
  const clock = 10_000;
  const list = () => new RevocationList({ now: () => clock });
  const bob: TokenProvenance = {
    subject: 'bob',
    session: 'sid-bob',
    tokenIds: ['jti-bob'],
    clients: ['agent-bob', 'orders-mcp'],
    issuedAt: clock - 100,
  };

  it('covers a provenance by its person, session, any token it came from, or any client of its chain', () => {
    for (const revocation of [
      { kind: 'subject', value: 'bob' },
      { kind: 'session', value: 'sid-bob' },
      { kind: 'jti', value: 'jti-bob' },
      { kind: 'client', value: 'agent-bob' },
      { kind: 'client', value: 'orders-mcp' },
    ] as const) {
      const revocations = list();
      revocations.add([revocation]);
      assert.equal(revocationTest(revocations)(bob), true, `${revocation.kind} ${revocation.value}`);
      assert.equal(
        revocationTest(revocations)({
          ...bob,
          subject: 'alice',
          session: 'sid-alice',
          tokenIds: [],
          clients: [],
        }),
        false,
      );
    }
  });

  it('leaves a token issued after a revocation instant (a later sign-in), but not one without issuedAt', () => {
    const revocations = list();
    revocations.add([{ kind: 'subject', value: 'bob', before: clock - 200 }]);
    assert.equal(revocationTest(revocations)(bob), false);
    const { issuedAt: _issuedAt, ...undated } = bob;
    assert.equal(revocationTest(revocations)(undated), true);
  });

  it('covers everything once the list is full (it fails closed)', () => {
    const revocations = new RevocationList({ now: () => clock, maxEntries: 1 });
    revocations.add([
      { kind: 'jti', value: 'x' },
      { kind: 'jti', value: 'y' },
    ]);
    assert.equal(revocationTest(revocations)({ subject: 'anyone' }), true);
  });
});

describe('followRevocations', () => {
  it('drops what the list covers already, then what each added revocation covers', async () => {
    const revocations = new RevocationList();
    revocations.add([{ kind: 'subject', value: 'carol' }]);
    const cache = follower({
      alice: { subject: 'alice' },
      bob: { subject: 'bob' },
      carol: { subject: 'carol' },
    });
    const following = followRevocations(revocations, cache);
    assert.ok(cache.revoked, 'the cache holds the live test before followRevocations returns');
    await following.settled();
    assert.deepEqual([...cache.held.keys()], ['alice', 'bob']);
    revocations.add([{ kind: 'subject', value: 'bob' }]);
    await following.settled();
    assert.deepEqual([...cache.held.keys()], ['alice']);
    following.stop();
    revocations.add([{ kind: 'subject', value: 'alice' }]);
    await following.settled();
    assert.deepEqual([...cache.held.keys()], ['alice'], 'stopped');
  });

  it('reports a drop that failed and goes on with the next', async () => {
    const revocations = new RevocationList();
    const errors: unknown[] = [];
    const following = followRevocations(revocations, follower({}, true), {
      onError: (error) => errors.push(error),
    });
    revocations.add([{ kind: 'subject', value: 'bob' }]);
    revocations.add([{ kind: 'subject', value: 'carol' }]);
    await following.settled();
    assert.equal(errors.length, 3, 'the first drop and one per change');
  });

  it('a lifted revocation asks nothing of the cache', async () => {
    const revocations = new RevocationList();
    revocations.add([{ kind: 'subject', value: 'bob' }]);
    let drops = 0;
    const following = followRevocations(revocations, {
      dropRevoked: async () => {
        drops++;
      },
    });
    revocations.lift([{ kind: 'subject', value: 'bob' }]);
    await following.settled();
    assert.equal(drops, 1, 'only the first');
  });
});
