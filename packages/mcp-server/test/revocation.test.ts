import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RevocationList } from '@baton/shared-signals';
import { type RefusalProbe, refusalProbe } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

/** A receiver's revocation list whose feed can be made stale, as `RevocationFeed` reports it. */
class Feed {
  readonly list = new RevocationList();
  stale: false | 'refuse' | 'introspect' = false;
  introspected: string[] = [];
  active = true;
  check(claims: Readonly<Record<string, unknown>>) {
    if (this.stale) return { reason: 'revocation_feed_stale' as const, fallback: this.stale };
    return this.list.check(claims);
  }
  async introspect(token: string): Promise<boolean> {
    this.introspected.push(token);
    return this.active;
  }
}

describe('the boundary refuses revoked tokens on every request, cached verifications included', () => {
  let stack: Stack;
  let probe: RefusalProbe;
  const feed = new Feed();

  before(async () => {
    stack = await startStack({ boundary: { revocations: feed } });
    probe = await refusalProbe(stack);
  });
  after(() => stack.close());

  const refusals = () => stack.audit.events.filter((event) => event.outcome !== 'ok');

  it('a token accepted (and cached) before its jti was revoked is refused after, and audited', async () => {
    const claims = probe.claims();
    const token = await probe.forge(claims);
    assert.equal((await probe.call(`Bearer ${token}`)).status, 200);
    feed.list.add([{ kind: 'jti', value: claims.jti as string, until: (claims.exp as number) + 1 }]);
    const answer = await probe.call(`Bearer ${token}`);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
    assert.equal(answer.reason, 'token_revoked');
    const event = refusals().at(-1)!;
    assert.equal(event.reason, 'token_revoked');
    assert.equal(event.initiator.sub, 'user-alice');
    assert.deepEqual(event.target, { type: 'tool', name: 'list_orders' });
    assert.ok(!JSON.stringify(stack.audit.events).includes(token));
    assert.ok(!stack.logLines.join('').includes(token));
  });

  it("an offboarded person's tokens issued before the instant are refused; another person's are not", async () => {
    const now = Math.floor(Date.now() / 1000);
    feed.list.add([{ kind: 'subject', value: 'user-bob', before: now + 1, until: now + 600 }]);
    const bob = await probe.forge(probe.claims({ sub: 'user-bob' }));
    assert.equal((await probe.call(`Bearer ${bob}`)).reason, 'subject_revoked');
    assert.equal((await probe.call(`Bearer ${await probe.forge()}`)).status, 200);
    // Signed in again after the revocation: a later iat is let in.
    assert.equal(
      (await probe.call(`Bearer ${await probe.forge(probe.claims({ sub: 'user-bob', iat: now + 2 }))}`))
        .status,
      200,
    );
  });

  it('a revoked identity-provider session stops the tokens of that session only', async () => {
    feed.list.add([{ kind: 'session', value: 'sid-1' }]);
    assert.equal(
      (await probe.call(`Bearer ${await probe.forge(probe.claims({ sid: 'sid-1' }))}`)).reason,
      'session_revoked',
    );
    assert.equal(
      (await probe.call(`Bearer ${await probe.forge(probe.claims({ sid: 'sid-2' }))}`)).status,
      200,
    );
  });

  it('a compromised client stops every chain it sits in, as the caller or as an actor', async () => {
    feed.list.add([{ kind: 'client', value: 'compromised-agent' }]);
    assert.equal(
      (await probe.call(`Bearer ${await probe.forge(probe.claims({ client_id: 'compromised-agent' }))}`))
        .reason,
      'client_revoked',
    );
    const chained = probe.claims({
      client_id: 'orders-mcp',
      act: { sub: 'orders-mcp', act: { sub: 'compromised-agent' } },
    });
    assert.equal((await probe.call(`Bearer ${await probe.forge(chained)}`)).reason, 'client_revoked');
  });

  it('a stale feed fails closed with 503 temporarily_unavailable, audited', async () => {
    feed.stale = 'refuse';
    try {
      const answer = await probe.call(`Bearer ${await probe.forge()}`);
      assert.equal(answer.status, 503);
      assert.equal(answer.body.error, 'temporarily_unavailable');
      assert.equal(answer.reason, 'revocation_status_unknown');
      assert.equal(refusals().at(-1)!.reason, 'revocation_status_unknown');
    } finally {
      feed.stale = false;
    }
  });

  it('a stale feed configured to introspect admits what the authorization server vouches for, and refuses the rest', async () => {
    feed.stale = 'introspect';
    try {
      const token = await probe.forge();
      feed.active = true;
      assert.equal((await probe.call(`Bearer ${token}`)).status, 200);
      assert.equal(feed.introspected.at(-1), token);
      feed.active = false;
      assert.equal((await probe.call(`Bearer ${token}`)).reason, 'token_revoked');
    } finally {
      feed.stale = false;
    }
  });
});
