import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { contextAttributesRead } from '../src/policy/context-usage.ts';
import { createCedarPolicyEngine, type ExchangeFacts } from '../src/policy/index.ts';
import { BoundedMemo, memoKeyFor } from '../src/policy/memo.ts';

const fixture = readFileSync(new URL('./fixtures/policy.cedar', import.meta.url), 'utf8');
const defaults = { lifetimeSeconds: 900, maxDepth: 5 };

const base: ExchangeFacts = {
  client: 'orders-mcp',
  subject: { sub: 'user-alice', tenant: 'acme' },
  subjectType: 'user',
  agent: 'agent-1',
  audience: 'http://127.0.0.1/billing/mcp',
  mode: 'on_behalf_of',
  tokenKind: 'access_token',
  depth: 1,
  chain: ['orders-mcp'],
  scopes: ['orders:read', 'billing:read'],
};

/** Each differs from `base` in one fact the fixture's rules look at, or in one they do not. */
const variants: ExchangeFacts[] = [
  base,
  { ...base, client: 'shipping-mcp' },
  { ...base, audience: 'http://127.0.0.1/legacy-api' },
  { ...base, audience: 'http://127.0.0.1/legacy-api', mode: 'restricted_user', scopes: ['legacy:read'] },
  { ...base, mode: 'restricted_user' },
  { ...base, mode: 'service_identity', tokenKind: 'txn_token' },
  { ...base, depth: 4 },
  { ...base, scopes: ['orders:write'] },
  { ...base, scopes: [] },
  { ...base, subject: { sub: 'user-bob', tenant: null } },
  { ...base, agent: 'agent-2' },
  { ...base, subjectType: 'service' },
  { ...base, mode: 'service_identity', subjectType: 'service', depth: 0, chain: [] },
  {
    ...base,
    client: 'billing-mcp',
    audience: 'http://127.0.0.1/ledger/mcp',
    depth: 2,
    chain: ['billing-mcp', 'orders-mcp'],
    scopes: ['ledger:read'],
  },
  {
    ...base,
    client: 'billing-mcp',
    audience: 'http://127.0.0.1/ledger/mcp',
    depth: 2,
    chain: ['billing-mcp', 'shipping-mcp'],
    scopes: ['ledger:read'],
  },
];

describe('cedar policy engine: memo', () => {
  it('memoized decisions equal fresh decisions, in any order and on repeat', () => {
    const fresh = createCedarPolicyEngine({ policies: fixture, defaults, memoSize: 0 });
    const memoized = createCedarPolicyEngine({ policies: fixture, defaults });
    for (const round of [variants, [...variants].reverse(), variants]) {
      for (const facts of round)
        assert.deepEqual(memoized.decide(facts), fresh.decide(facts), JSON.stringify(facts));
    }
  });

  it('a changed fact a rule reads is not served from the memo', () => {
    const engine = createCedarPolicyEngine({ policies: fixture, defaults });
    assert.equal(engine.decide(base).allowed, true);
    assert.equal(engine.decide({ ...base, audience: 'http://127.0.0.1/payroll/mcp' }).allowed, false);
    assert.equal(engine.decide({ ...base, mode: 'service_identity', tokenKind: 'txn_token' }).allowed, false);
    assert.equal(engine.decide({ ...base, client: 'shipping-mcp' }).allowed, false);
    assert.deepEqual(engine.decide({ ...base, scopes: ['orders:read', 'orders:write'] }).grantedScopes, [
      'orders:read',
    ]);
    const ledger = {
      ...base,
      client: 'billing-mcp',
      audience: 'http://127.0.0.1/ledger/mcp',
      scopes: ['ledger:read'],
    };
    assert.equal(engine.decide({ ...ledger, chain: ['billing-mcp', 'orders-mcp'] }).allowed, true);
    assert.equal(engine.decide({ ...ledger, chain: ['billing-mcp', 'shipping-mcp'] }).allowed, false);
  });

  it('a tiny memo that keeps evicting still decides correctly', () => {
    const fresh = createCedarPolicyEngine({ policies: fixture, defaults, memoSize: 0 });
    const tiny = createCedarPolicyEngine({ policies: fixture, defaults, memoSize: 2 });
    for (let round = 0; round < 3; round++) {
      for (const facts of variants) assert.deepEqual(tiny.decide(facts), fresh.decide(facts));
    }
  });

  it('a caller mutating a decision does not change the next one', () => {
    const engine = createCedarPolicyEngine({ policies: fixture, defaults });
    const first = engine.decide(base);
    first.grantedScopes.push('billing:admin');
    first.reasons.push('tampered');
    assert.deepEqual(engine.decide(base).grantedScopes, ['orders:read', 'billing:read']);
    assert.deepEqual(engine.decide(base).reasons, []);
  });
});

describe('memo key: only facts some rule reads', () => {
  const read = (text: string) =>
    contextAttributesRead(
      text
        .split(';')
        .filter((part) => part.trim() !== '')
        .map((part) => {
          const converted = policyToJson(`${part};`);
          assert.equal(converted.type, 'success');
          return converted.type === 'success' ? converted.json : undefined;
        }),
    );

  it('finds context.x, context["x"] and context has x', () => {
    assert.deepEqual(
      read(
        'permit (principal, action, resource) when { context.mode == "a" && context["depth"] > 1 && context has tenant }',
      ),
      ['mode', 'depth', 'tenant'],
    );
  });

  it('treats any other use of context as reading all of it', () => {
    assert.equal(read('permit (principal, action, resource) when { context == {} }').length, 10);
  });

  it('leaves out facts no rule reads, so another user hits the same entry', () => {
    const key = memoKeyFor(
      read('permit (principal, action, resource) when { context.mode == "a" && context.scope == "s" }'),
    );
    const alice = key(base, 'orders:read');
    assert.equal(
      key({ ...base, subject: { sub: 'user-bob', tenant: null }, agent: 'agent-9' }, 'orders:read'),
      alice,
    );
    assert.notEqual(key(base, 'billing:read'), alice);
    assert.notEqual(key({ ...base, mode: 'service_identity', tokenKind: 'txn_token' }, 'orders:read'), alice);
    assert.notEqual(key({ ...base, client: 'other' }, 'orders:read'), alice);
    assert.notEqual(key({ ...base, audience: 'http://other' }, 'orders:read'), alice);
  });

  it('keeps facts a rule reads, down to the chain and a null tenant', () => {
    const key = memoKeyFor(
      read('permit (principal, action, resource) when { context.chain.contains(context.tenant) }'),
    );
    assert.notEqual(key(base, 's'), key({ ...base, chain: ['orders-mcp', 'x'] }, 's'));
    assert.notEqual(key(base, 's'), key({ ...base, subject: { sub: 'user-alice', tenant: null } }, 's'));
  });
});

describe('BoundedMemo', () => {
  it('never grows past its capacity and evicts the oldest entry first', () => {
    const memo = new BoundedMemo<number>(2);
    memo.set('a', 1);
    memo.set('b', 2);
    memo.set('a', 3);
    memo.set('c', 4);
    assert.equal(memo.size, 2);
    assert.equal(memo.get('a'), undefined);
    assert.deepEqual([memo.get('b'), memo.get('c')], [2, 4]);
  });

  it('stores nothing at capacity 0 and refuses a nonsensical capacity', () => {
    const memo = new BoundedMemo<number>(0);
    memo.set('a', 1);
    assert.equal(memo.get('a'), undefined);
    assert.throws(() => new BoundedMemo(-1), TypeError);
    assert.throws(() => new BoundedMemo(1.5), TypeError);
  });
});
