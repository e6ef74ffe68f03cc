import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createCedarPolicyEngine, type ExchangeFacts, type PolicyMode } from '../src/policy/index.ts';

const fixture = readFileSync(new URL('./fixtures/policy.cedar', import.meta.url), 'utf8');
const defaults = { lifetimeSeconds: 900, maxDepth: 5 };
const BILLING = 'http://127.0.0.1/billing/mcp';
const LEGACY = 'http://127.0.0.1/legacy-api';

const facts = (overrides: Partial<ExchangeFacts> = {}): ExchangeFacts => ({
  client: 'orders-mcp',
  subject: { sub: 'user-alice', tenant: 'acme' },
  subjectType: 'user',
  agent: 'agent-1',
  audience: BILLING,
  mode: 'on_behalf_of',
  tokenKind: 'access_token',
  depth: 1,
  chain: ['orders-mcp'],
  scopes: ['orders:read'],
  ...overrides,
});

/** The facts of a request a policy sees in `mode`: a Transaction Token is a token kind, in service identity. */
const inMode = (mode: PolicyMode): Pick<ExchangeFacts, 'mode' | 'tokenKind'> =>
  mode === 'txn_token'
    ? { mode: 'service_identity', tokenKind: 'txn_token' }
    : { mode, tokenKind: 'access_token' };

const engineFor = (policies: string, options: { memoSize?: number; maxDepth?: number } = {}) =>
  createCedarPolicyEngine({
    policies,
    defaults: { ...defaults, maxDepth: options.maxDepth ?? defaults.maxDepth },
    ...(options.memoSize === undefined ? {} : { memoSize: options.memoSize }),
  });

describe('cedar policy engine: permits', () => {
  it('permits the declared client, audience and mode, granting only requested scopes a rule permits', () => {
    const decision = engineFor(fixture).decide(
      facts({ scopes: ['orders:read', 'orders:write', 'billing:read', 'billing:admin'] }),
    );
    assert.deepEqual(decision, {
      allowed: true,
      grantedScopes: ['orders:read', 'billing:read'],
      lifetimeSeconds: 300,
      maxDepth: 3,
      reasons: [],
    });
  });

  it('reads the chain: billing reaches the ledger only when the call came through orders', () => {
    const engine = engineFor(fixture);
    const ledger = {
      client: 'billing-mcp',
      audience: 'http://127.0.0.1/ledger/mcp',
      scopes: ['ledger:read'],
      depth: 2,
    };
    const via = engine.decide(facts({ ...ledger, chain: ['billing-mcp', 'orders-mcp'] }));
    assert.equal(via.allowed, true);
    assert.deepEqual([via.lifetimeSeconds, via.maxDepth], [120, 2]);
    assert.equal(engine.decide(facts({ ...ledger, chain: ['billing-mcp', 'shipping-mcp'] })).allowed, false);
  });

  it('decides a request without scopes on the rules alone, granting no scope', () => {
    const engine = engineFor(`
      @id("txn-tokens-for-billing")
      permit (principal, action, resource == Baton::Audience::"${BILLING}") when { context.mode == "txn_token" };
    `);
    assert.deepEqual(engine.decide(facts({ ...inMode('txn_token'), scopes: [] })), {
      allowed: true,
      grantedScopes: [],
      lifetimeSeconds: defaults.lifetimeSeconds,
      maxDepth: defaults.maxDepth,
      reasons: [],
    });
    assert.equal(engine.decide(facts({ mode: 'on_behalf_of', scopes: [] })).allowed, false);
  });

  it('sends rules every attribute they test, a null tenant as ""', () => {
    const engine = engineFor(`
      @id("tenantless-users") permit (principal, action, resource)
      when { context has subject && context has tenant && context.tenant == "" && context.agent == "agent-1" };
    `);
    assert.equal(engine.decide(facts({ subject: { sub: 'user-bob', tenant: null } })).allowed, true);
    assert.equal(engine.decide(facts()).allowed, false);
  });
});

describe('cedar policy engine: refusals name their reason', () => {
  it('refuses an audience no rule names, saying that no rule permits it', () => {
    const decision = engineFor(fixture).decide(facts({ audience: 'http://127.0.0.1/payroll/mcp' }));
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.grantedScopes, []);
    assert.deepEqual(decision.reasons, [
      'no rule permits client "orders-mcp" to exchange for audience "http://127.0.0.1/payroll/mcp" in mode on_behalf_of with scope "orders:read"',
    ]);
  });

  it('refuses a permitted audience in a mode no rule allows (mode is part of the permission)', () => {
    const decision = engineFor(fixture).decide(facts(inMode('txn_token')));
    assert.equal(decision.allowed, false);
    assert.match(decision.reasons[0] ?? '', /^no rule permits .* in mode txn_token/);
  });

  it('refuses when none of the requested scopes is permitted, naming the scopes', () => {
    const decision = engineFor(fixture).decide(facts({ scopes: ['orders:write', 'billing:admin'] }));
    assert.equal(decision.allowed, false);
    assert.match(decision.reasons[0] ?? '', /with scopes "orders:write", "billing:admin"$/);
  });

  it('refuses an empty policy set: Cedar denies by default', () => {
    assert.equal(engineFor('').decide(facts()).allowed, false);
  });

  it('a forbid rule wins over a permit, and its @id is the reason', () => {
    const engine = engineFor(`
      @id("anyone-may-impersonate")
      permit (principal, action, resource) when { context.mode == "restricted_user" };
      ${fixture}
    `);
    const decision = engine.decide(facts({ mode: 'restricted_user' }));
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.reasons, ['no-impersonation-except-legacy-api']);
    // The forbid's `unless` carves out the legacy API, where the permits apply.
    const legacy = engine.decide(
      facts({ mode: 'restricted_user', audience: LEGACY, scopes: ['legacy:read'] }),
    );
    assert.equal(legacy.allowed, true);
  });

  it('refuses a depth above @max_depth, naming the rule that sets it', () => {
    const decision = engineFor(fixture).decide(facts({ depth: 4 }));
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.grantedScopes, []);
    assert.deepEqual(decision.reasons, [
      'max_depth exceeded: depth 4 exceeds @max_depth 3 of rule "orders-mcp-may-call-billing"',
    ]);
    assert.equal(engineFor(fixture).decide(facts({ depth: 3 })).allowed, true);
  });

  it('refuses a depth above the default max_depth when no rule sets one', () => {
    const engine = engineFor('@id("open") permit (principal, action, resource);', { maxDepth: 2 });
    assert.equal(engine.decide(facts({ depth: 2 })).allowed, true);
    const decision = engine.decide(facts({ depth: 3 }));
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.reasons, ['max_depth exceeded: depth 3 exceeds the default max_depth 2']);
  });

  it('a rule that fails to evaluate refuses the exchange (fail closed), naming the rule', () => {
    // Cedar skips an erroring rule; for a forbid that would mean allowing what the operator forbade.
    const engine = engineFor(`
      @id("open") permit (principal, action, resource);
      @id("overflowing-forbid") forbid (principal, action, resource) when { context.depth + 9223372036854775807 > 0 };
    `);
    const decision = engine.decide(facts({ scopes: ['orders:read', 'billing:read'] }));
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.grantedScopes, []);
    assert.equal(decision.reasons.length, 1);
    assert.match(
      decision.reasons[0] ?? '',
      /fail closed.*rule "overflowing-forbid" failed to evaluate: integer overflow/,
    );
  });

  it('facts Cedar cannot represent refuse the exchange rather than throw', () => {
    const engine = engineFor(
      '@id("shallow") permit (principal, action, resource) when { context.depth < 3 };',
    );
    const decision = engine.decide(facts({ depth: 1.5 }));
    assert.equal(decision.allowed, false);
    assert.match(decision.reasons[0] ?? '', /fail closed.*Cedar could not evaluate the request/);
  });
});

describe('cedar policy engine: refusals carry a structured kind', () => {
  it('says what kind of refusal each is, whatever the rules and clients are called', () => {
    const engine = engineFor(`
      @id("permit_max_depth_lookalike") @max_depth("2")
      permit (principal, action, resource) when { context.scope == "orders:read" };
      @id("no_max_depth_here")
      forbid (principal == Baton::Client::"max_depth-client", action, resource);
      @id("overflowing_max_depth") forbid (principal == Baton::Client::"overflow", action, resource)
      when { context.depth + 9223372036854775807 > 0 };
    `);
    assert.equal(engine.decide(facts()).refusal, undefined, 'no refusal kind when allowed');
    assert.equal(engine.decide(facts({ client: 'max_depth-client' })).refusal, 'forbidden');
    assert.equal(
      engine.decide(facts({ client: 'max_depth-client-2', scopes: ['billing:read'] })).refusal,
      'not_permitted',
    );
    assert.equal(engine.decide(facts({ depth: 3 })).refusal, 'depth_exceeded');
    assert.equal(engine.decide(facts({ client: 'overflow' })).refusal, 'evaluation_failed');
  });
});

describe('cedar policy engine: subjects with no person behind them', () => {
  const machine = {
    subjectType: 'service' as const,
    subject: { sub: 'batch-job', tenant: null },
    agent: 'batch-job',
  };

  it('refuses a person mode for a machine when only rules written for people permit it', () => {
    const decision = engineFor(fixture).decide(facts(machine));
    assert.equal(decision.allowed, false);
    assert.equal(decision.refusal, 'person_less_subject');
    assert.deepEqual(decision.grantedScopes, []);
    assert.equal(
      engineFor(fixture).decide(facts()).allowed,
      true,
      'the same facts for a person are permitted',
    );
  });

  it('counts only a permit whose condition requires context.subject_type == "service" and pins the mode', () => {
    const engine = engineFor(`
      @id("explicit") permit (principal, action, resource)
      when { context.mode == "on_behalf_of" && "service" == context.subject_type && context.scope == "orders:read" };
      @id("loose") permit (principal, action, resource)
      when { context.subject_type == "service" || context.scope == "billing:read" };
      @id("negated") permit (principal, action, resource)
      when { context.subject_type != "user" && context.scope == "ledger:read" };
    `);
    const decision = engine.decide(
      facts({ ...machine, scopes: ['orders:read', 'billing:read', 'ledger:read'] }),
    );
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.grantedScopes, ['orders:read']);
    assert.equal(
      engine.decide(facts({ ...machine, scopes: ['billing:read'] })).refusal,
      'person_less_subject',
    );
  });

  it('refuses every person mode for a machine under a service-identity rule that requires a service subject but does not pin the mode', () => {
    // Written for the orders MCP server acting as itself; it must not also let a machine subject pass
    // as a person on_behalf_of, in a Transaction Token or a restricted user token.
    const engine = engineFor(`
      @id("orders-mcp-as-itself") permit (principal, action, resource)
      when { context.subject_type == "service" && context.scope == "orders:read" };
    `);
    for (const mode of ['on_behalf_of', 'txn_token', 'restricted_user'] as const) {
      const decision = engine.decide(facts({ ...machine, ...inMode(mode), scopes: ['orders:read'] }));
      assert.equal(decision.allowed, false, mode);
      assert.equal(decision.refusal, 'person_less_subject', mode);
      assert.deepEqual(decision.grantedScopes, [], mode);
    }
    assert.equal(
      engine.decide(
        facts({ ...machine, mode: 'service_identity', depth: 0, chain: [], scopes: ['orders:read'] }),
      ).allowed,
      true,
      'service identity, what the rule was written for, still works',
    );
  });

  it('counts a service-subject rule only in the person modes its condition pins', () => {
    const engine = engineFor(`
      @id("batch-on-behalf") permit (principal, action, resource)
      when { ["on_behalf_of", "service_identity"].contains(context.mode) && context.subject_type == "service" };
      @id("batch-txn") permit (principal, action, resource)
      when { context.subject_type == "service" } when { "txn_token" == context.mode };
      @id("loose-mode") permit (principal, action, resource)
      when { context.subject_type == "service" && (context.mode == "restricted_user" || context.scope == "x") };
    `);
    const allowed = (mode: 'on_behalf_of' | 'txn_token' | 'restricted_user') =>
      engine.decide(facts({ ...machine, ...inMode(mode), scopes: ['orders:read'] })).allowed;
    assert.equal(allowed('on_behalf_of'), true);
    assert.equal(allowed('txn_token'), true);
    assert.equal(allowed('restricted_user'), false, 'a mode inside an || pins nothing');
  });

  it('asks nothing extra of service identity, which is always a machine', () => {
    const engine = engineFor(
      '@id("as-itself") permit (principal, action, resource) when { context.mode == "service_identity" };',
    );
    assert.equal(
      engine.decide(facts({ ...machine, mode: 'service_identity', depth: 0, chain: [] })).allowed,
      true,
    );
  });

  it("a rule for a service's own token does not issue a Transaction Token acting for a person", () => {
    // A Txn-Token is a token kind carried in service identity; the policy still tells it apart.
    const engine = engineFor(
      '@id("as-itself") permit (principal, action, resource) when { context.mode == "service_identity" };',
    );
    const decision = engine.decide(facts({ ...inMode('txn_token'), scopes: ['orders:read'] }));
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.grantedScopes, []);
    assert.match(decision.reasons[0] ?? '', /in mode txn_token/);
  });
});

describe('cedar policy engine: lifetime and depth annotations', () => {
  const policies = `
    @id("broad") @lifetime("600") @max_depth("4")
    permit (principal, action, resource) when { ["a", "b"].contains(context.scope) };
    @id("short-for-a") @lifetime("60")
    permit (principal, action, resource) when { context.scope == "a" };
    @id("shallow-for-b") @max_depth("2")
    permit (principal, action, resource) when { context.scope == "b" };
    @id("plain") permit (principal, action, resource) when { context.scope == "c" };
  `;
  const decide = (scopes: string[]) => engineFor(policies).decide(facts({ scopes }));

  it('takes the smallest @lifetime and @max_depth among the rules that permitted', () => {
    assert.deepEqual([decide(['a']).lifetimeSeconds, decide(['a']).maxDepth], [60, 4]);
    assert.deepEqual([decide(['b']).lifetimeSeconds, decide(['b']).maxDepth], [600, 2]);
    // Across scopes: every rule that granted any of them bounds the token.
    assert.deepEqual([decide(['a', 'b']).lifetimeSeconds, decide(['a', 'b']).maxDepth], [60, 2]);
  });

  it('falls back to the defaults when no permitting rule sets them', () => {
    assert.deepEqual([decide(['c']).lifetimeSeconds, decide(['c']).maxDepth], [900, 5]);
  });

  it('ignores rules that permitted only scopes that were not granted', () => {
    assert.deepEqual([decide(['c', 'z']).lifetimeSeconds, decide(['c', 'z']).maxDepth], [900, 5]);
  });
});

describe('cedar policy engine: construction refuses what it cannot honour', () => {
  const rejects = (policies: string, pattern: RegExp) =>
    assert.throws(
      () => engineFor(policies),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, `expected TypeError, got ${String(error)}`);
        assert.match(error.message, pattern);
        return true;
      },
    );

  it('stops a syntax error, with Cedar message and line', () => {
    rejects(
      '@id("a")\npermit (principal, action, resource) when { context.mode == };',
      /cannot parse.*line 2:/,
    );
  });

  it('stops a rule without @id (denials could not name it)', () => {
    rejects('permit (principal, action, resource);', /needs an @id/);
    rejects('@id("") permit (principal, action, resource);', /needs an @id/);
  });

  it('stops two rules sharing an @id', () => {
    rejects(
      '@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);',
      /two rules carry @id\("a"\)/,
    );
  });

  it('stops a malformed @lifetime or @max_depth, and one on a forbid rule', () => {
    rejects(
      '@id("a") @lifetime("5m") permit (principal, action, resource);',
      /rule "a": @lifetime must be a positive/,
    );
    rejects(
      '@id("a") @max_depth permit (principal, action, resource);',
      /rule "a": @max_depth must be a positive/,
    );
    rejects('@id("a") @lifetime("0") permit (principal, action, resource);', /@lifetime must be a positive/);
    rejects(
      '@id("f") @lifetime("60") forbid (principal, action, resource);',
      /only has a meaning on permit rules/,
    );
  });

  it('stops a rule that reads a context attribute the request does not have (a typo never matches silently)', () => {
    rejects(
      '@id("typo") permit (principal, action, resource) when { context.scopes == "a" };',
      /rule "typo".*scopes/,
    );
    rejects(
      '@id("types") permit (principal, action, resource) when { context.depth == "3" };',
      /rule "types"/,
    );
  });

  it('stops templates, which have no links to fill them', () => {
    rejects('@id("t") permit (principal == ?principal, action, resource);', /templates .* are not supported/);
  });

  it('stops defaults that are not positive integers', () => {
    for (const bad of [
      { lifetimeSeconds: 0, maxDepth: 3 },
      { lifetimeSeconds: 60, maxDepth: 1.5 },
    ]) {
      assert.throws(() => createCedarPolicyEngine({ policies: fixture, defaults: bad }), TypeError);
    }
    assert.throws(() => createCedarPolicyEngine({ policies: fixture, defaults, memoSize: -1 }), TypeError);
  });
});

describe('cedar policy engine: visitors from another trust domain', () => {
  const HOME = 'https://broker.home.example';
  const visitor = {
    grant: 'identity_chaining' as const,
    assertionIssuer: HOME,
    subject: { sub: `${HOME}|user-alice`, tenant: `${HOME}|acme` },
    agent: `${HOME}|agent-1`,
  };

  it('refuses a visitor under rules written for this domain’s own requests (they do not name the grant)', () => {
    const decision = engineFor(fixture).decide(facts(visitor));
    assert.equal(decision.allowed, false);
    assert.equal(decision.refusal, 'visitor_not_admitted');
    assert.deepEqual(decision.grantedScopes, []);
    assert.equal(engineFor(fixture).decide(facts()).allowed, true, 'the same rules still permit an exchange');
  });

  it('counts only a permit whose condition requires context.grant == "identity_chaining", and reads the assertion issuer', () => {
    const engine = engineFor(`
      @id("visitors") permit (principal, action, resource)
      when { context.grant == "identity_chaining" && context.assertion_issuer == "${HOME}" && context.scope == "orders:read" };
      @id("loose") permit (principal, action, resource)
      when { context.grant == "identity_chaining" || context.scope == "billing:read" };
      @id("negated") permit (principal, action, resource)
      when { context.grant != "token_exchange" && context.scope == "ledger:read" };
    `);
    const decision = engine.decide(
      facts({ ...visitor, scopes: ['orders:read', 'billing:read', 'ledger:read'] }),
    );
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.grantedScopes, ['orders:read']);
    assert.equal(
      engine.decide(facts({ ...visitor, assertionIssuer: 'https://broker.other.example' })).allowed,
      false,
      'another home broker is not admitted by a rule naming this one',
    );
    assert.equal(
      engine.decide(facts({ ...visitor, scopes: ['billing:read'] })).refusal,
      'visitor_not_admitted',
    );
  });

  it('a person-less visitor acting for a person needs one rule that both admits visitors and pins subject_type and mode', () => {
    const machine = {
      ...visitor,
      subject: { sub: `${HOME}|agent-1`, tenant: null },
      subjectType: 'service' as const,
    };
    // A rule for any visitor and a rule for this domain's own machines acting for a person: neither
    // alone admits a visiting machine acting for a person, so together they do not either.
    const apart = engineFor(`
      @id("visitors-read") permit (principal, action, resource)
      when { context.grant == "identity_chaining" && context.scope == "orders:read" };
      @id("own-services-on-behalf-of") permit (principal == Baton::Client::"orders-mcp", action, resource)
      when { context.subject_type == "service" && context.mode == "on_behalf_of" };
    `).decide(facts(machine));
    assert.equal(apart.allowed, false);
    assert.equal(apart.refusal, 'person_less_subject');
    assert.deepEqual(apart.grantedScopes, []);
    const together = engineFor(`
      @id("visiting-services-on-behalf-of") permit (principal, action, resource)
      when { context.grant == "identity_chaining" && context.subject_type == "service" && context.mode == "on_behalf_of" };
    `).decide(facts(machine));
    assert.equal(together.allowed, true);
    assert.deepEqual(together.grantedScopes, ['orders:read']);
  });

  it('tells the grants apart: an exchange is token_exchange, an ID-JAG id_jag', () => {
    const engine = engineFor(`
      @id("id-jag-only") permit (principal, action, resource)
      when { context.grant == "id_jag" && context.scope == "orders:read" };
    `);
    assert.equal(engine.decide(facts()).allowed, false);
    assert.equal(
      engine.decide(facts({ grant: 'id_jag', assertionIssuer: 'https://idp.example' })).allowed,
      true,
    );
  });
});
