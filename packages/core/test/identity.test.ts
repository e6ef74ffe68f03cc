import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ActorTypeRule,
  defaultActorType,
  identityFromClaims,
  MAX_DELEGATION_SERVICES,
  parseAct,
  sessionOf,
  tenantOf,
  type ValidatedClaims,
  withActor,
} from '../src/index.ts';

const claimsOf = (
  extra: Partial<ValidatedClaims> & { raw?: Record<string, unknown> } = {},
): ValidatedClaims => {
  const { raw, ...rest } = extra;
  return {
    issuer: 'https://idp.example',
    subject: 'alice',
    clientId: 'agent-1',
    scopes: ['orders:read'],
    expiresAt: 2_000_000_000,
    issuedAt: 1_999_999_000,
    tokenId: 'jti-1',
    claims: raw ?? {},
    ...rest,
  };
};

/** An `act` chain naming `services` services outermost-first around the agent. */
const chainOf = (services: number, agent = 'agent-1') => {
  let act: Record<string, unknown> = { sub: agent, iss: 'https://idp.example' };
  for (let index = services; index >= 1; index -= 1) act = { sub: `svc-${index}`, act };
  return act;
};

describe('identityFromClaims: tenant', () => {
  test('reads the tenant claim', () => {
    assert.equal(identityFromClaims(claimsOf({ raw: { tenant: 'acme' } })).actor.tenant, 'acme');
  });

  test('falls back to tid as Entra issues it', () => {
    assert.equal(identityFromClaims(claimsOf({ raw: { tid: 'entra-tenant' } })).actor.tenant, 'entra-tenant');
  });

  test('a tid cannot override a tenant', () => {
    const identity = identityFromClaims(claimsOf({ raw: { tenant: 'acme', tid: 'attacker-tenant' } }));
    assert.equal(identity.actor.tenant, 'acme');
    assert.equal(tenantOf(claimsOf({ raw: { tenant: 'acme', tid: 'attacker-tenant' } })), 'acme');
  });

  test('a non-string tenant or tid names no tenant', () => {
    assert.equal(identityFromClaims(claimsOf({ raw: { tenant: ['acme'], tid: 7 } })).actor.tenant, null);
    assert.equal(identityFromClaims(claimsOf()).actor.tenant, null);
  });
});

describe('identityFromClaims: session', () => {
  test('prefers the identity provider session (sid)', () => {
    assert.equal(
      identityFromClaims(claimsOf({ raw: { sid: 'sid-1' } }), { grant: 'root-1' }).session,
      'sid-1',
    );
  });

  test('an empty sid is no session: the grant, then the token id, then client:sub:iat', () => {
    assert.equal(identityFromClaims(claimsOf({ raw: { sid: '' } }), { grant: 'root-1' }).session, 'root-1');
    assert.equal(identityFromClaims(claimsOf({ raw: { sid: '' } })).session, 'jti-1');
    const { tokenId: _, ...withoutJti } = claimsOf();
    assert.equal(sessionOf(withoutJti), 'agent-1:alice:1999999000');
    const { issuedAt: __, ...withoutIat } = withoutJti;
    assert.equal(sessionOf(withoutIat), 'agent-1:alice:2000000000');
  });

  test('a non-string sid cannot choose the session', () => {
    assert.equal(identityFromClaims(claimsOf({ raw: { sid: { $ne: null } } })).session, 'jti-1');
  });
});

describe('identityFromClaims: actor, agent, chain and mode', () => {
  test("a person's token from the agent: the client is the agent, no services, restricted_user", () => {
    const identity = identityFromClaims(claimsOf({ raw: { tenant: 'acme' } }));
    assert.deepEqual(identity.actor, { type: 'user', sub: 'alice', tenant: 'acme' });
    assert.equal(identity.agent, 'agent-1');
    assert.equal(identity.client, 'agent-1');
    assert.deepEqual(identity.delegation, { mode: 'restricted_user', services: [], chain: ['agent-1'] });
    assert.deepEqual(identity.scopes, ['orders:read']);
    assert.deepEqual(identity.token, {
      issuer: 'https://idp.example',
      id: 'jti-1',
      issuedAt: 1_999_999_000,
      expiresAt: 2_000_000_000,
    });
  });

  test('a token the broker exchanged: the agent innermost, the services most recent first, on_behalf_of', () => {
    const identity = identityFromClaims(
      claimsOf({ clientId: 'billing-mcp', raw: { act: { sub: 'billing-mcp', act: chainOf(1) } } }),
    );
    assert.equal(identity.agent, 'agent-1');
    assert.equal(identity.client, 'billing-mcp');
    assert.equal(identity.actor.type, 'user');
    assert.deepEqual(identity.delegation, {
      mode: 'on_behalf_of',
      services: ['billing-mcp', 'svc-1'],
      chain: ['billing-mcp', 'svc-1', 'agent-1'],
    });
  });

  test("a machine's own token (sub = client_id) is a service acting as itself", () => {
    const identity = identityFromClaims(claimsOf({ subject: 'orders-mcp', clientId: 'orders-mcp' }));
    assert.equal(identity.actor.type, 'service');
    assert.equal(identity.delegation.mode, 'service_identity');
  });

  test("a machine's token passed on by the broker stays a machine's (sub = innermost actor)", () => {
    const claims = claimsOf({
      subject: 'batch-job',
      clientId: 'orders-mcp',
      raw: { act: chainOf(0, 'batch-job') },
    });
    assert.equal(identityFromClaims(claims).actor.type, 'service');
    assert.equal(defaultActorType(claims), 'service');
  });

  test("a deployment's rule decides the actor type; a decided type is taken as is", () => {
    const claims = claimsOf({ raw: { idtyp: 'app' } });
    const rule: ActorTypeRule = (c) => (c.claims.idtyp === 'app' ? 'service' : 'user');
    assert.equal(identityFromClaims(claims, { actorType: rule }).actor.type, 'service');
    assert.equal(identityFromClaims(claims, { actorType: 'service' }).actor.type, 'service');
  });

  test('a rule answering neither user nor service is refused', () => {
    assert.throws(() => identityFromClaims(claimsOf(), { actorType: (() => 'admin') as never }), TypeError);
  });

  test('the identity is frozen: code holding it cannot change whom a call is for', () => {
    const identity = identityFromClaims(claimsOf({ raw: { act: chainOf(1) } }));
    assert.throws(() => {
      (identity.actor as { sub: string }).sub = 'mallory';
    }, TypeError);
    assert.throws(() => {
      (identity.delegation.chain as string[]).push('mallory');
    }, TypeError);
    assert.throws(() => {
      (identity.scopes as string[]).push('admin');
    }, TypeError);
  });
});

describe('identityFromClaims: refusals', () => {
  for (const [name, act] of [
    ['a string', 'agent-1'],
    ['null', null],
    ['an actor without sub', { iss: 'https://idp.example' }],
    ['an empty sub', { sub: '' }],
    ['a non-string iss', { sub: 'agent-1', iss: 42 }],
    ['a malformed inner actor', { sub: 'svc', act: { sub: 7 } }],
  ] as const) {
    test(`refuses a malformed act (${name}) rather than guess the chain`, () => {
      assert.throws(() => identityFromClaims(claimsOf({ raw: { act } })), TypeError);
    });
  }

  test('a malformed act is a machine under the default rule (fail safe)', () => {
    assert.equal(defaultActorType(claimsOf({ raw: { act: 'agent-1' } })), 'service');
    assert.equal(defaultActorType(claimsOf({ raw: { act: { sub: 'agent-1', act: [] } } })), 'service');
  });

  test('a nested act deeper than the limit is refused', () => {
    assert.equal(
      identityFromClaims(claimsOf({ raw: { act: chainOf(MAX_DELEGATION_SERVICES) } })).delegation.services
        .length,
      MAX_DELEGATION_SERVICES,
    );
    assert.throws(
      () => identityFromClaims(claimsOf({ raw: { act: chainOf(MAX_DELEGATION_SERVICES + 1) } })),
      /too deep/,
    );
    assert.throws(() => parseAct(chainOf(MAX_DELEGATION_SERVICES + 1)), /too deep/);
  });
});

describe('act: a workload identity in an actor entry (RFC 8693 §4.1 extra member)', () => {
  test('keeps spiffe_id through parsing and when wrapping with a new actor; drops unknown members', () => {
    const act = parseAct({
      sub: 'billing-mcp',
      act: {
        sub: 'orders-mcp',
        spiffe_id: 'spiffe://baton.test/orders-mcp',
        other: 1,
        act: { sub: 'agent' },
      },
    });
    assert.deepEqual(act, {
      sub: 'billing-mcp',
      act: { sub: 'orders-mcp', spiffe_id: 'spiffe://baton.test/orders-mcp', act: { sub: 'agent' } },
    });
    assert.deepEqual(
      withActor({ sub: 'api', spiffe_id: 'spiffe://baton.test/api' }, act).spiffe_id,
      'spiffe://baton.test/api',
    );
  });

  test('refuses a spiffe_id that is not a SPIFFE ID', () => {
    assert.throws(() => parseAct({ sub: 'orders-mcp', spiffe_id: 'https://evil.example' }), /spiffe_id/);
    assert.throws(() => parseAct({ sub: 'orders-mcp', spiffe_id: 42 }), /spiffe_id/);
  });
});
