import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { jwtAccessTokenVerifier } from '@baton/resource-server';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { IdentityBoundary } from '../src/index.ts';
import { assertRfc6750Challenge } from './fixtures/challenge-grammar.ts';
import { buildOrdersServer } from './fixtures/orders.ts';
import { type Answer, type RefusalProbe, refusalProbe, TOOL_CALL } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

describe('the boundary refuses every bad token with the right status, challenge and reason', () => {
  let stack: Stack;
  let kid: string;
  let claims: RefusalProbe['claims'];
  let forge: RefusalProbe['forge'];
  let call: RefusalProbe['call'];

  before(async () => {
    stack = await startStack();
    ({ kid, claims, forge, call } = await refusalProbe(stack));
  });
  after(() => stack.close());

  function assertInvalidToken(answer: Answer, reason: string): void {
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, reason);
    assert.equal(answer.body.error, 'invalid_token');
    assert.match(answer.challenge, /^Bearer /);
    assert.match(answer.challenge, /error="invalid_token"/);
    assert.ok(answer.challenge.includes(`resource_metadata="${stack.boundary.resourceMetadataUrl}"`));
  }

  it('sanity: the forged-but-correct token is accepted, so each refusal below is caused by its one defect', async () => {
    const answer = await call(`Bearer ${await forge()}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.reason, undefined);
  });

  it('answers a request without a token with 401 and a challenge that carries no error code (RFC 6750 §3.1)', async () => {
    const answer = await call(undefined);
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'token_missing');
    assert.equal(
      answer.challenge,
      `Bearer resource_metadata="${stack.boundary.resourceMetadataUrl}", scope="orders:read orders:write"`,
    );
  });

  for (const header of [
    'Basic dXNlcjpwYXNz',
    'Bearer',
    'Bearer two tokens',
    'Bearer <script>',
    'Token abc',
  ]) {
    it(`refuses a malformed Authorization header (${header.split(' ')[0]}…) with 400 invalid_request`, async () => {
      const answer = await call(header);
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error, 'invalid_request');
      assert.equal(answer.reason, 'authorization_header_malformed');
    });
  }

  it('refuses a token whose signature was made by another key under the IdP kid', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    assertInvalidToken(await call(`Bearer ${await forge(claims(), {}, privateKey)}`), 'signature_invalid');
  });

  it('refuses a token with a tampered payload', async () => {
    const [header, , signature] = (await forge()).split('.');
    const payload = Buffer.from(JSON.stringify(claims({ sub: 'user-bob' }))).toString('base64url');
    assertInvalidToken(await call(`Bearer ${header}.${payload}.${signature}`), 'signature_invalid');
  });

  it('refuses an alg "none" token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    assertInvalidToken(await call(`Bearer ${header}.${payload}.`), 'alg_not_allowed');
  });

  it('refuses an HS256 token keyed with the IdP public key (algorithm confusion)', async () => {
    const { d: _, ...publicJwk } = stack.idpSigningJwk;
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const signature = createHmac('sha256', JSON.stringify(publicJwk))
      .update(`${header}.${payload}`)
      .digest('base64url');
    assertInvalidToken(await call(`Bearer ${header}.${payload}.${signature}`), 'alg_not_allowed');
  });

  for (const typ of ['JWT', 'id_token+jwt', 'txntoken+jwt']) {
    it(`refuses a token typed ${typ} (an ID token or envelope is not an access token)`, async () => {
      assertInvalidToken(await call(`Bearer ${await forge(claims(), { typ })}`), 'typ_invalid');
    });
  }

  it('refuses a token from another issuer, even signed with a trusted key', async () => {
    assertInvalidToken(
      await call(`Bearer ${await forge(claims({ iss: 'http://127.0.0.1:1/evil' }))}`),
      'issuer_invalid',
    );
  });

  it('refuses a token minted for another resource (RFC 8707 audience)', async () => {
    for (const aud of [
      'http://127.0.0.1:1/other-mcp',
      `${stack.resource}2`,
      [`${stack.resource}-x`, 'https://api.example'],
    ]) {
      assertInvalidToken(await call(`Bearer ${await forge(claims({ aud }))}`), 'audience_invalid');
    }
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertInvalidToken(
      await call(`Bearer ${await forge(claims({ iat: now - 900, exp: now - 60 }))}`),
      'token_expired',
    );
  });

  it('refuses a token whose nbf is in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertInvalidToken(
      await call(`Bearer ${await forge(claims({ nbf: now + 600 }))}`),
      'token_not_yet_valid',
    );
  });

  it('refuses a token signed by a key the IdP does not publish (unknown kid)', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    assertInvalidToken(
      await call(`Bearer ${await forge(claims(), { kid: 'not-published' }, privateKey)}`),
      'key_unknown',
    );
  });

  it('refuses a token without client_id (the agent would be unknown)', async () => {
    assertInvalidToken(
      await call(`Bearer ${await forge(claims({ client_id: undefined }))}`),
      'claims_invalid',
    );
  });

  it('refuses a sender-constrained token at a resource that does not check its binding', async () => {
    assertInvalidToken(
      await call(`Bearer ${await forge(claims({ cnf: { jkt: 'thumbprint' } }))}`),
      'cnf_unsupported',
    );
  });

  it('refuses a garbage token as malformed', async () => {
    assertInvalidToken(await call('Bearer abc.def.ghi'), 'token_malformed');
  });

  it('answers a missing scope with 403 insufficient_scope naming every scope the tool needs, and audits it', async () => {
    const auditBefore = stack.audit.events.length;
    const token = await forge(claims({ scope: 'orders:read' }));
    const response = await fetch(stack.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'create_order', arguments: { item: 'x' } },
      }),
    });
    assert.equal(response.status, 403);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /error="insufficient_scope"/);
    assertRfc6750Challenge(challenge);
    assert.match(challenge, /scope="orders:read orders:write"/);
    assert.ok(challenge.includes(`resource_metadata="${stack.boundary.resourceMetadataUrl}"`));
    const denied = stack.audit.events.slice(auditBefore);
    assert.equal(denied.length, 1);
    assert.equal(denied[0]?.outcome, 'denied');
    assert.equal(denied[0]?.reason, 'scope_insufficient');
    assert.equal(denied[0]?.target.name, 'create_order');
    assert.equal(denied[0]?.initiator.sub, 'user-alice');
  });

  it('never writes a token, or its signature, into a log line', async () => {
    const token = await forge(claims({ exp: 1 }));
    await call(`Bearer ${token}`);
    const logs = stack.logLines.join('');
    assert.equal(logs.includes(token), false);
    assert.equal(logs.includes(token.split('.')[2]!), false);
    assert.ok(stack.logLines.length > 0, 'refusals are logged');
  });
});

describe('the boundary fails closed when the authorization server is down', () => {
  it('answers 503 temporarily_unavailable, not 200 and not a misleading 401', async () => {
    const resource = 'http://127.0.0.1:9/mcp';
    const boundary = new IdentityBoundary({
      resource,
      authorizationServers: ['http://127.0.0.1:9'],
      tokenVerifier: jwtAccessTokenVerifier({ issuer: 'http://127.0.0.1:9', audience: resource }),
      envelopes: new EnvelopeIssuer({
        issuer: resource,
        trustDomain: 'baton.test',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit: new MemoryAuditSink(),
      logger: (await import('@baton/audit')).createLogger({ name: 'down', level: 'silent' }),
    });
    const handler = boundary.protect(createMcpHandler(() => buildOrdersServer(boundary, [])));
    const response = await handler.fetch(
      new Request(resource, { method: 'POST', headers: { authorization: 'Bearer a.b.c' }, body: TOOL_CALL }),
    );
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable');
    assert.ok(response.headers.get('retry-after'));
  });
});

describe('construction requires every security option', () => {
  it('refuses a boundary without resource, verifier, envelopes or audit', () => {
    const base = {
      resource: 'http://127.0.0.1:1/mcp',
      authorizationServers: ['http://127.0.0.1:2'],
      tokenVerifier: jwtAccessTokenVerifier({
        issuer: 'http://127.0.0.1:2',
        audience: 'http://127.0.0.1:1/mcp',
      }),
      envelopes: new EnvelopeIssuer({
        issuer: 'x',
        trustDomain: 'y',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit: new MemoryAuditSink(),
    };
    assert.doesNotThrow(() => new IdentityBoundary(base));
    for (const missing of ['resource', 'tokenVerifier', 'envelopes', 'audit'] as const) {
      assert.throws(
        () => new IdentityBoundary({ ...base, [missing]: undefined as never }),
        TypeError,
        missing,
      );
    }
    assert.throws(() => new IdentityBoundary({ ...base, authorizationServers: [] }), TypeError);
    assert.throws(
      () => new IdentityBoundary({ ...base, resource: 'http://127.0.0.1:1/mcp#frag' }),
      TypeError,
    );
    assert.throws(
      () => jwtAccessTokenVerifier({ issuer: 'x', audience: 'y', algorithms: ['HS256'] }),
      TypeError,
    );
    assert.throws(() => jwtAccessTokenVerifier({ issuer: '', audience: 'y' }), TypeError);
  });
});
