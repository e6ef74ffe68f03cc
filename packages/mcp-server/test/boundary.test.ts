import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnvelopeIssuer, remoteJwksResolver, verifyEnvelope } from '@baton/envelope';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { TOKEN_WITHHELD } from '../src/index.ts';
import { findPath, reaches } from './fixtures/leaks.ts';
import { ORDERS } from './fixtures/orders.ts';
import { refusalProbe } from './fixtures/refusal-probe.ts';
import { type Stack, startStack, TRUST_DOMAIN } from './fixtures/stack.ts';

async function connect(stack: Stack, token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'boundary-test-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(stack.resource), {
    authProvider: { token: async () => token },
    requestInit: { headers },
  });
  await client.connect(transport);
  return client;
}

function textOf(result: unknown): string {
  return ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;
}

describe('identity boundary, end to end (real IdP, SDK client and server, HTTP)', () => {
  let stack: Stack;
  let aliceToken: string;
  let bobToken: string;
  before(async () => {
    stack = await startStack();
    aliceToken = await stack.tokenFor('alice');
    bobToken = await stack.tokenFor('bob');
  });
  after(() => stack.close());

  it("gives each user the tool result for that user's own identity", async () => {
    for (const [user, token] of [
      ['user-alice', aliceToken],
      ['user-bob', bobToken],
    ] as const) {
      const client = await connect(stack, token);
      const body = JSON.parse(textOf(await client.callTool({ name: 'list_orders', arguments: {} })));
      assert.equal(body.sub, user);
      assert.deepEqual(body.orders, ORDERS[user]);
      await client.close();
    }
  });

  it('derives the envelope from the validated token: user, tenant, agent, scopes, delegation, trust domain', async () => {
    stack.observed.length = 0;
    const client = await connect(stack, aliceToken);
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const { identity } = stack.observed.at(-1)!;
    assert.equal(identity.actor.type, 'user');
    assert.equal(identity.actor.sub, 'user-alice');
    assert.equal(identity.actor.tenant, 'acme');
    assert.equal(identity.agent.type, 'ai_agent');
    assert.notEqual(identity.agent.client_id, identity.actor.sub, 'user and agent are kept apart');
    assert.deepEqual([...identity.authorization.scopes].sort(), ['orders:read', 'orders:write']);
    assert.equal(identity.authorization.confidence, 'medium');
    assert.deepEqual(identity.delegation, {
      mode: 'service_identity',
      allowed: ['http://127.0.0.1/orders-api'],
      chain: [],
    });
    assert.equal(identity.issuer, stack.resource);
    assert.equal(identity.trust_domain, TRUST_DOMAIN);
    assert.ok(identity.expires_at - identity.issued_at <= 300, 'envelopes live minutes');
    assert.ok(Object.isFrozen(identity) && Object.isFrozen(identity.actor));
  });

  it('bob gets only the scopes his role allows, so his envelope says so', async () => {
    stack.observed.length = 0;
    const client = await connect(stack, bobToken);
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    assert.deepEqual(stack.observed.at(-1)!.identity.authorization.scopes, ['orders:read']);
  });

  it("trace injection: an agent naming another person's trace id gets a fresh trace, the id kept only as a link", async () => {
    const victimTrace = '0af7651916cd43dd8448eb211c80319c';
    for (const via of ['header', '_meta'] as const) {
      const traceparent = `00-${victimTrace}-b7ad6b7169203331-01`;
      const client = await connect(stack, aliceToken, via === 'header' ? { traceparent } : {});
      await client.callTool({
        name: 'list_orders',
        arguments: {},
        ...(via === '_meta' ? { _meta: { traceparent } } : {}),
      });
      await client.close();
      const event = stack.audit.events.at(-1)!;
      assert.notEqual(event.trace_id, victimTrace, via);
      assert.equal(stack.observed.at(-1)!.identity.session.trace_id, event.trace_id, via);
      assert.equal(event.parent_span_id, undefined, via);
      assert.deepEqual(event.linked_trace, { trace_id: victimTrace, span_id: 'b7ad6b7169203331' }, via);
    }
  });

  it('continues the trace of an upstream Baton hop (a token with a delegation chain), preferring _meta over the header', async () => {
    const probe = await refusalProbe(stack);
    const hopToken = await probe.forge(
      probe.claims({ client_id: 'orders-mcp', act: { sub: 'orders-mcp', act: { sub: 'agent-1' } } }),
    );
    const client = await connect(stack, hopToken, {
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    });
    await client.callTool({
      name: 'list_orders',
      arguments: {},
      _meta: { traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` },
    });
    await client.close();
    const event = stack.audit.events.at(-1)!;
    assert.equal(event.trace_id, 'c'.repeat(32));
    assert.equal(event.parent_span_id, 'd'.repeat(16));
    assert.equal(event.linked_trace, undefined);
  });

  it('input cannot override identity: a user_id argument naming bob still acts for alice', async () => {
    stack.observed.length = 0;
    const client = await connect(stack, aliceToken);
    const body = JSON.parse(
      textOf(await client.callTool({ name: 'list_orders', arguments: { user_id: 'user-bob' } })),
    );
    await client.close();
    assert.equal(body.sub, 'user-alice');
    assert.deepEqual(body.orders, ORDERS['user-alice']);
    assert.equal(stack.observed.at(-1)!.identity.actor.sub, 'user-alice');
    assert.deepEqual(stack.observed.at(-1)!.input, { user_id: 'user-bob' });
  });

  it('audits every invocation with initiator, agent, tool, mode, trace and outcome, never a token', async () => {
    const before = stack.audit.events.length;
    const client = await connect(stack, aliceToken);
    await client.callTool({ name: 'list_orders', arguments: {} });
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    await client.close();
    assert.equal(failed.isError, true);
    const [ok, error] = stack.audit.events.slice(before);
    assert.equal(ok?.outcome, 'ok');
    assert.equal(ok?.initiator.sub, 'user-alice');
    assert.equal(ok?.initiator.tenant, 'acme');
    assert.equal(ok?.target.name, 'list_orders');
    assert.equal(ok?.delegation_mode, 'service_identity');
    assert.match(ok?.trace_id ?? '', /^[0-9a-f]{32}$/);
    assert.ok(typeof ok?.duration_ms === 'number' && ok.duration_ms >= 0);
    assert.notEqual(ok?.agent.client_id, ok?.initiator.sub);
    assert.equal(error?.outcome, 'error');
    assert.equal(error?.reason, 'tool_threw');
    const serialized = JSON.stringify(stack.audit.events) + stack.logLines.join('');
    assert.equal(serialized.includes(aliceToken), false, 'no raw token in audit or logs');
    assert.equal(serialized.includes(aliceToken.split('.')[2]!), false, 'not even its signature');
  });

  it('signs each envelope so that anyone holding the boundary JWKS can verify it', async () => {
    const client = await connect(stack, aliceToken);
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const envelope = stack.observed.at(-1)!.identity;
    const minted = stack.envelopes.minted.find((entry) => entry.envelope.id === envelope.id);
    assert.ok(minted, 'the envelope the tool saw was minted by the boundary issuer');
    assert.equal(stack.audit.events.at(-1)!.envelope_id, envelope.id);
    const verified = await verifyEnvelope(minted.token, {
      issuer: stack.resource,
      trustDomain: TRUST_DOMAIN,
      keys: remoteJwksResolver(new URL(stack.boundary.envelopeJwksUrl)),
    });
    assert.deepEqual(verified, envelope);
  });
});

describe('tool code cannot reach the raw token', () => {
  let stack: Stack;
  let token: string;
  before(async () => {
    stack = await startStack();
    token = await stack.tokenFor('alice');
  });
  after(() => stack.close());

  it('an identity tool finds the token nowhere in its invocation or context', async () => {
    stack.observed.length = 0;
    const client = await connect(stack, token);
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const { invocation, context } = stack.observed[0]!;
    assert.equal(reaches(invocation, token), undefined);
    assert.equal(reaches(context, token), undefined);
    assert.deepEqual(Object.keys(context).sort(), ['downstream', 'log', 'progress', 'signal']);
    assert.deepEqual(Object.keys(invocation as object).sort(), ['identity', 'input']);
  });

  it("a plain SDK tool finds it neither in ctx.http.authInfo.token nor in the request's Authorization header", async () => {
    stack.observed.length = 0;
    const client = await connect(stack, token);
    await client.callTool({ name: 'plain_sdk_tool', arguments: {} });
    await client.close();
    const ctx = stack.observed[0]!.rawContext as {
      http?: { authInfo?: { token: string }; req?: Request };
    };
    assert.equal(ctx.http?.authInfo?.token, TOKEN_WITHHELD);
    assert.equal(ctx.http?.req?.headers.get('authorization') ?? null, null);
    assert.equal(reaches(ctx, token), undefined, 'the token is reachable from the SDK context');
    assert.equal(reaches(ctx, token.split('.')[2]!), undefined);
  });

  it('a plain SDK tool cannot reach the envelope signer or the broker credentials through ctx.http.authInfo', async () => {
    stack.observed.length = 0;
    const client = await connect(stack, token);
    await client.callTool({ name: 'plain_sdk_tool', arguments: {} });
    await client.close();
    const ctx = stack.observed[0]!.rawContext as {
      http?: { authInfo?: { extra?: Record<string, unknown> } };
    };
    assert.ok(ctx.http?.authInfo?.extra?.['baton.boundary'], 'the boundary context rides in AuthInfo.extra');
    const signer = findPath(
      ctx,
      (value) =>
        value instanceof EnvelopeIssuer ||
        (typeof value === 'object' && value !== null && ('mint' in value || 'assertion' in value)),
    );
    assert.equal(signer, undefined, `a signing capability is reachable at ${signer}`);
  });
});

describe('opaque tokens through RFC 7662 introspection', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ tokenFormat: 'opaque' });
  });
  after(() => stack.close());

  it('accepts an active opaque token and derives the same identity', async () => {
    const token = await stack.tokenFor('bob');
    assert.equal(token.split('.').length, 1, 'the IdP issued an opaque token');
    const client = await connect(stack, token);
    const body = JSON.parse(textOf(await client.callTool({ name: 'list_orders', arguments: {} })));
    await client.close();
    assert.equal(body.sub, 'user-bob');
    assert.equal(stack.observed.at(-1)!.identity.actor.tenant, 'acme');
  });

  it('refuses an unknown opaque token as invalid_token', async () => {
    const response = await fetch(stack.resource, {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-token-the-idp-issued', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });
});
