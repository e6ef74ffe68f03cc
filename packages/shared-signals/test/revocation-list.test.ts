import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevocationList } from '../src/index.ts';

describe('RevocationList', () => {
  let clock = 1_000;
  const list = () => new RevocationList({ now: () => clock });

  it('refuses a revoked jti and nothing else', () => {
    const revocations = list();
    revocations.add([{ kind: 'jti', value: 'a', until: clock + 60 }]);
    assert.deepEqual(revocations.check({ jti: 'a', sub: 'bob', iat: clock }), {
      reason: 'token_revoked',
      kind: 'jti',
    });
    assert.equal(revocations.check({ jti: 'b', sub: 'bob', iat: clock }), undefined);
  });

  it('refuses a subject only for tokens issued before the instant, and a token without iat', () => {
    const revocations = list();
    revocations.add([{ kind: 'subject', value: 'bob', before: clock, until: clock + 600 }]);
    assert.equal(revocations.check({ sub: 'bob', iat: clock - 1 })?.reason, 'subject_revoked');
    assert.equal(revocations.check({ sub: 'bob' })?.reason, 'subject_revoked');
    assert.equal(revocations.check({ sub: 'bob', iat: clock }), undefined);
    assert.equal(revocations.check({ sub: 'alice', iat: clock - 1 }), undefined);
  });

  it('refuses every token of a disabled subject until lifted; after the lift, only the tokens issued before it', () => {
    const revocations = list();
    revocations.add([{ kind: 'subject', value: 'bob', at: clock - 10 }]);
    assert.equal(revocations.check({ sub: 'bob', iat: clock + 10_000 })?.reason, 'subject_revoked');
    revocations.lift([{ kind: 'subject', value: 'bob', at: clock }]);
    assert.equal(revocations.check({ sub: 'bob', iat: clock + 1 }), undefined);
    assert.equal(
      revocations.check({ sub: 'bob', iat: clock })?.reason,
      'subject_revoked',
      'the lift’s own second stays refused',
    );
    // A token stolen while bob was disabled is not revived by his return.
    assert.equal(revocations.check({ sub: 'bob', iat: clock - 1 })?.reason, 'subject_revoked');
  });

  it('a lift does not undo an earlier cut-off: credential compromise, disable, enable leaves the stolen token refused', () => {
    const revocations = list();
    revocations.add([
      { kind: 'subject', value: 'bob', before: clock - 100, until: clock + 600, at: clock - 100 },
    ]);
    revocations.add([{ kind: 'subject', value: 'bob', at: clock - 50 }]);
    revocations.lift([{ kind: 'subject', value: 'bob', at: clock - 10 }]);
    assert.equal(revocations.check({ sub: 'bob', iat: clock - 200 })?.reason, 'subject_revoked');
    assert.equal(revocations.check({ sub: 'bob', iat: clock })?.reason, undefined);
  });

  it('a late, older revocation does not undo a lift made after it (Shared Signals and Redis replaying into one list)', () => {
    const revocations = list();
    revocations.add([{ kind: 'subject', value: 'bob', at: clock - 20 }]);
    revocations.lift([{ kind: 'subject', value: 'bob', at: clock - 10 }]);
    revocations.add([{ kind: 'subject', value: 'bob', at: clock - 20 }]);
    assert.equal(revocations.check({ sub: 'bob', iat: clock }), undefined);
  });

  it('a disable and an enable in the same second: the disable wins (fail closed)', () => {
    const revocations = list();
    revocations.add([{ kind: 'subject', value: 'bob', at: clock }]);
    revocations.lift([{ kind: 'subject', value: 'bob', at: clock }]);
    assert.equal(revocations.check({ sub: 'bob', iat: clock + 60 })?.reason, 'subject_revoked');
  });

  it('ignores a lift older than the revocation it meets (an account-enabled delivered after a later account-disabled)', () => {
    const revocations = list();
    revocations.add([{ kind: 'client', value: 'agent', at: clock }]);
    revocations.lift([{ kind: 'client', value: 'agent', at: clock - 5 }]);
    assert.equal(revocations.check({ client_id: 'agent', iat: clock + 60 })?.reason, 'client_revoked');
  });

  it('refuses a chain a revoked client sits in, as client_id, azp or any actor', () => {
    const revocations = list();
    revocations.add([{ kind: 'client', value: 'orders-mcp' }]);
    assert.equal(revocations.check({ client_id: 'orders-mcp' })?.reason, 'client_revoked');
    assert.equal(revocations.check({ azp: 'orders-mcp' })?.reason, 'client_revoked');
    assert.equal(
      revocations.check({ client_id: 'billing-mcp', act: { sub: 'billing-mcp', act: { sub: 'orders-mcp' } } })
        ?.reason,
      'client_revoked',
    );
    assert.equal(revocations.check({ client_id: 'billing-mcp', act: { sub: 'agent' } }), undefined);
  });

  it('refuses a revoked session', () => {
    const revocations = list();
    revocations.add([{ kind: 'session', value: 's1', until: clock + 60 }]);
    assert.equal(revocations.check({ sid: 's1', sub: 'bob', iat: clock })?.reason, 'session_revoked');
  });

  it('forgets entries once no token they cover can be valid', () => {
    const revocations = list();
    revocations.add([{ kind: 'jti', value: 'a', until: clock + 60 }]);
    clock += 61;
    assert.equal(revocations.check({ jti: 'a' }), undefined);
    revocations.sweep();
    assert.equal(revocations.size, 0);
  });

  it('fails closed when full rather than forget a revocation', () => {
    const revocations = new RevocationList({ maxEntries: 1, now: () => clock });
    revocations.add([
      { kind: 'jti', value: 'a', until: clock + 60 },
      { kind: 'jti', value: 'b', until: clock + 60 },
    ]);
    assert.deepEqual(revocations.check({ jti: 'c' }), { reason: 'revocation_list_full' });
  });

  it('tells listeners what was added and lifted, and a throwing listener stops no other', () => {
    const revocations = list();
    const seen: unknown[] = [];
    revocations.onChange(() => {
      throw new Error('cache down');
    });
    revocations.onChange((change) => seen.push(change));
    revocations.add([{ kind: 'subject', value: 'bob', at: clock - 10 }]);
    revocations.add([{ kind: 'subject', value: 'bob', at: clock - 10 }]);
    revocations.lift([{ kind: 'subject', value: 'bob', at: clock }]);
    assert.equal(seen.length, 2);
  });
});
