import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { defaultCallerKind } from '@baton/resource-server';
import { decodeJwt, importJWK, type JWK, SignJWT } from 'jose';
import { ACCESS_TOKEN_TYPE, TXN_TOKEN_TYPE } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { exchange, tokenRequest } from './fixtures/service-client.ts';
import {
  BILLING_API,
  BILLING_MCP,
  type BrokerStack,
  LEGACY_API,
  ORDERS_MCP,
  POLICY,
  startBrokerStack,
} from './fixtures/stack.ts';

/** Rules on top of the fixture's: the only ones that name subjects with no person behind them. */
const MACHINE_RULES = `
// The reporting service may reach the billing MCP server as itself.
@id("reporting-at-billing-mcp")
permit (principal == Baton::Client::"reporting-service", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "service_identity" && context.scope == "billing:read" };

// The orders MCP server may pass the nightly batch job's calls on to the billing MCP server.
@id("orders-for-the-batch-job")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "on_behalf_of" && context.subject_type == "service" && context.agent == "batch-job" && context.scope == "billing:read" };
`;

/**
 * A subject token with no person behind it (an identity provider's client_credentials token, a
 * broker service-identity token, or a token derived from one) must not become a person's token. The
 * broker tells them apart with `defaultCallerKind` (`sub` equal to `client_id`), the rule the MCP
 * boundary uses, and refuses the modes that act for a person unless a rule requires
 * `context.subject_type == "service"`.
 */
describe('person-less subject tokens are not exchanged as if a person stood behind them', () => {
  let stack: BrokerStack;
  let idpKey: CryptoKey | Uint8Array;

  before(async () => {
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({
        policies: POLICY + MACHINE_RULES,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      // An Entra-style rule: app tokens are marked, and their sub is not their client id.
      callerKind: (claims) => (claims.claims.idtyp === 'app' ? 'service' : defaultCallerKind(claims)),
    });
    idpKey = await importJWK(stack.idpSigningJwk as JWK, 'ES256');
  });
  after(() => stack.close());

  /** What the identity provider issues for client_credentials (RFC 9068 §2.2: sub is the client). */
  function machineToken(clientId: string, claims: Record<string, unknown> = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: stack.idp.issuer,
      aud: ORDERS_MCP,
      sub: clientId,
      client_id: clientId,
      scope: 'orders:read billing:read',
      iat: now,
      exp: now + 300,
      jti: randomUUID(),
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: stack.idpSigningJwk.kid as string })
      .sign(idpKey);
  }

  async function refused(
    client: BrokerStack['orders'],
    subjectToken: string,
    parameters: Record<string, string>,
  ) {
    const before = stack.audit.events.length;
    const answer = await exchange(stack.broker.issuer, client, {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      ...parameters,
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_request');
    assert.equal(
      answer.body.error_description,
      'subject_token has no person behind it, and the declared policy does not allow acting for a service here',
    );
    const denial = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(denial?.reason, 'subject_not_a_person');
  }

  it("refuses on_behalf_of for an identity provider's client_credentials token, though a rule permits it for people", async () => {
    await refused(stack.orders, await machineToken('cron-job'), {
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
  });

  it('refuses a Transaction Token and a restricted user token for it', async () => {
    await refused(stack.orders, await machineToken('cron-job'), {
      resource: BILLING_MCP,
      audience: 'baton.test',
      requested_token_type: TXN_TOKEN_TYPE,
      scope: 'billing:read',
    });
    await refused(stack.orders, await machineToken('cron-job'), {
      resource: LEGACY_API,
      scope: 'orders:read',
      delegation_mode: 'restricted_user',
    });
  });

  it("refuses on_behalf_of for the broker's own service-identity token as subject", async () => {
    const service = await tokenRequest(stack.broker.issuer, stack.reporting, {
      grant_type: 'client_credentials',
      resource: BILLING_MCP,
    });
    assert.equal(service.status, 200, JSON.stringify(service.body));
    // billing-mcp serves that audience, and "billing-to-api" lets it act for people.
    await refused(stack.billing, service.body.access_token as string, { resource: BILLING_API });
  });

  it('allows it where a rule requires context.subject_type == "service", and the next hop is still person-less', async () => {
    const first = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await machineToken('batch-job'),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const claims = decodeJwt(first.body.access_token as string);
    assert.equal(claims.sub, 'batch-job');
    assert.deepEqual(claims.act, { sub: 'orders-mcp', act: { sub: 'batch-job', iss: stack.idp.issuer } });
    // Its sub is not its client_id any more, yet it is still a machine's: "billing-to-api" is for people.
    await refused(stack.billing, first.body.access_token as string, { resource: BILLING_API });
  });

  it('names a machine by its client id, so a configured rule that spotted it needs no help at the next hop', async () => {
    // An app token whose sub is an object id, recognised by the configured rule (idtyp), not by sub == client_id.
    await refused(
      stack.orders,
      await machineToken('batch-job', { sub: 'service-principal-7f3a', idtyp: 'app' }),
      { resource: BILLING_MCP, scope: 'orders:read' },
    );
    const allowed = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await machineToken('batch-job', { sub: 'service-principal-7f3a', idtyp: 'app' }),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    const claims = decodeJwt(allowed.body.access_token as string);
    assert.equal(claims.sub, 'batch-job', 'the machine, by its client id');
    assert.equal(claims.idtyp, undefined);
    await refused(stack.billing, allowed.body.access_token as string, { resource: BILLING_API });
  });

  it('keeps sub equal to the innermost act actor in a token derived from a machine, so the next hop sees a machine (and differs for a person)', async () => {
    // The boundary's rule for broker-issued tokens: sub equal to the innermost act actor (the client
    // the chain started from) means no person. The issued token's client_id is the exchanging
    // service, so sub == client_id alone no longer says it.
    const innermost = (act: unknown): unknown => {
      let actor = act as { sub?: unknown; act?: unknown };
      while (actor.act) actor = actor.act as { sub?: unknown; act?: unknown };
      return actor.sub;
    };
    const machine = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await machineToken('batch-job'),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(machine.status, 200, JSON.stringify(machine.body));
    const derived = decodeJwt(machine.body.access_token as string);
    assert.equal(derived.sub, 'batch-job');
    assert.equal(derived.sub, innermost(derived.act), 'sub is the machine the chain started from');
    assert.notEqual(derived.sub, derived.client_id);
    const person = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    const personal = decodeJwt(person.body.access_token as string);
    assert.notEqual(
      personal.sub,
      innermost(personal.act),
      "a person's token names the person, not the agent",
    );
  });

  it("still exchanges a person's token as before", async () => {
    const answer = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(decodeJwt(answer.body.access_token as string).sub, 'user-alice');
  });
});
