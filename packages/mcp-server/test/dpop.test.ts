import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { DEMO_USERS, ScriptedAgentProvider } from '@baton/demo-idp';
import { EnvelopeIssuer } from '@baton/envelope';
import {
  type ClientCertificate,
  DpopNonces,
  type DpopReplayStore,
  jwtAccessTokenVerifier,
  MemoryDpopReplayStore,
} from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { RedisDpopReplayStore } from '@baton/resource-server/redis';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { decodeJwt } from 'jose';
import { createClient } from 'redis';
import {
  type DpopKey,
  dpopKey,
  unsignedOrSymmetricProof,
} from '../../resource-server/test/fixtures/dpop-proof.ts';
import { IdentityBoundary } from '../src/index.ts';
import { assertRfc6750Challenge } from './fixtures/challenge-grammar.ts';
import { reaches } from './fixtures/leaks.ts';
import { STACKS } from './fixtures/mounts.ts';
import { buildOrdersServer } from './fixtures/orders.ts';
import { refusalProbe, TOOL_CALL } from './fixtures/refusal-probe.ts';
import { SCOPES, type Stack, startStack, TRUST_DOMAIN } from './fixtures/stack.ts';

const NONCE_SECRET = 'the DPoP nonce secret every boundary instance shares';
const nonces = new DpopNonces({ secret: NONCE_SECRET });
const CERTIFICATE: ClientCertificate = {
  thumbprint: 'x5t-of-the-orders-agent-certificate',
  spiffeId: 'spiffe://baton.test/agent',
  uris: ['spiffe://baton.test/agent'],
  subject: 'CN=agent',
};

interface Answer {
  status: number;
  challenge: string;
  body: Record<string, unknown>;
  reason: string | undefined;
  nonce: string | null;
}

/** A tool call with any `Authorization` and `DPoP` headers, to `url` (default: the stack's resource). */
async function call(
  stack: Stack,
  headers: Record<string, string>,
  url: string = stack.resource,
): Promise<Answer> {
  const linesBefore = stack.logLines.length;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: TOOL_CALL,
  });
  const text = await response.text();
  const challenge = response.headers.get('www-authenticate') ?? '';
  assertRfc6750Challenge(challenge);
  return {
    status: response.status,
    challenge,
    body: text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {},
    reason: stack.logLines
      .slice(linesBefore)
      .map((line) => JSON.parse(line) as { reason?: string })
      .find((line) => line.reason)?.reason,
    nonce: response.headers.get('dpop-nonce'),
  };
}

/** The SDK client through the whole OAuth flow (401, metadata, sign-in, token: DPoP-bound when the provider has `dpop`). */
async function signedInClient(stack: Stack, provider: ScriptedAgentProvider, name: string): Promise<Client> {
  const transportFor = () =>
    new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider });
  const client = new Client({ name, version: '1.0.0' });
  try {
    await client.connect(transportFor());
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
    const transport = transportFor();
    await transport.finishAuth(provider.callback.searchParams);
    provider.callback = undefined;
    const signedIn = new Client({ name, version: '1.0.0' });
    await signedIn.connect(transport);
    return signedIn;
  }
}

function assertRefused(answer: Answer, error: string, reason: string): void {
  assert.equal(answer.status, 401, JSON.stringify(answer));
  assert.equal(answer.body.error, error);
  assert.equal(answer.reason, reason);
  assert.match(answer.challenge, /DPoP algs="[A-Za-z0-9 ]+"/);
  assert.match(answer.challenge, new RegExp(`DPoP .*error="${error}"`));
}

describe('DPoP at the MCP boundary (RFC 9449): real IdP, SDK v2 client, Redis replay store', () => {
  let stack: Stack;
  let redis: ReturnType<typeof createClient>;
  let replay: DpopReplayStore;
  let key: DpopKey;
  let other: DpopKey;
  let second: Awaited<ReturnType<typeof secondInstance>>;
  /** A valid DPoP-bound access token for `key` (forged as the IdP, with `cnf.jkt`). */
  let bound: string;
  let probe: Awaited<ReturnType<typeof refusalProbe>>;
  const proof = (
    token: string,
    options: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {},
    signer: DpopKey = key,
    htm = 'POST',
    htu = stack.resource,
  ) => signer.proof(htm, htu, token, { ...options, claims: { nonce: nonces.issue(), ...options.claims } });

  before(async () => {
    redis = createClient({ url: 'redis://127.0.0.1:6379' });
    await redis.connect();
    replay = new RedisDpopReplayStore({ redis, keyPrefix: `baton:test:dpop:${crypto.randomUUID()}:` });
    stack = await startStack({
      boundary: { senderConstraint: { dpop: { replay, nonces: { secret: NONCE_SECRET } }, mtls: {} } },
    });
    key = await dpopKey();
    other = await dpopKey();
    probe = await refusalProbe(stack);
    bound = await probe.forge(probe.claims({ cnf: { jkt: key.jkt } }));
    second = await secondInstance(stack, replay);
  });
  after(async () => {
    await second?.close();
    await stack?.close();
    await redis?.close();
  });

  it('the SDK client asks for a DPoP-bound token and calls a tool with proofs (token_type DPoP, confidence high)', async () => {
    const provider = new ScriptedAgentProvider({
      credentials: DEMO_USERS.alice,
      clientName: 'dpop agent',
      dpop: true,
    });
    const client = await signedInClient(stack, provider, 'dpop-agent');
    stack.observed.length = 0;
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const tokens = provider.tokens()!;
    assert.equal(tokens.token_type, 'DPoP');
    const session = await provider.dpop()!;
    assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt: session.thumbprint });
    const envelope = stack.observed.at(-1)!.identity;
    assert.equal(envelope.authorization.confidence, 'high');
    assert.equal(envelope.authorization.binding, 'dpop');
    assert.equal(envelope.actor.sub, 'user-alice');
  });

  it('publishes its DPoP and mTLS binding in RFC 9728 metadata', async () => {
    const metadata = await (await fetch(stack.boundary.resourceMetadataUrl)).json();
    assert.ok(metadata.dpop_signing_alg_values_supported.includes('ES256'));
    assert.equal(metadata.dpop_bound_access_tokens_required, false);
    assert.equal(metadata.tls_client_certificate_bound_access_tokens, true);
  });

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce, and serves the retry with a fresh nonce', async () => {
    const first = await call(stack, {
      authorization: `DPoP ${bound}`,
      dpop: await key.proof('POST', stack.resource, bound),
    });
    assertRefused(first, 'use_dpop_nonce', 'dpop_nonce_required');
    assert.ok(first.nonce);
    const retry = await call(stack, {
      authorization: `DPoP ${bound}`,
      dpop: await key.proof('POST', stack.resource, bound, { claims: { nonce: first.nonce } }),
    });
    assert.equal(retry.status, 200);
    assert.ok(retry.nonce, 'a successful response carries a fresh nonce (RFC 9449 §8.2)');
  });

  it('refuses a wrong nonce and an expired one with use_dpop_nonce', async () => {
    const forged = new DpopNonces({ secret: 'the nonce secret of some other deployment' }).issue();
    assertRefused(
      await call(stack, {
        authorization: `DPoP ${bound}`,
        dpop: await proof(bound, { claims: { nonce: forged } }),
      }),
      'use_dpop_nonce',
      'dpop_nonce_invalid',
    );
    const expired = nonces.issue(Date.now() / 1000 - 3600);
    const answer = await call(stack, {
      authorization: `DPoP ${bound}`,
      dpop: await proof(bound, { claims: { nonce: expired } }),
    });
    assertRefused(answer, 'use_dpop_nonce', 'dpop_nonce_expired');
    assert.ok(answer.nonce);
  });

  it('refuses a replayed proof, and audits the refusal', async () => {
    const once = await proof(bound);
    assert.equal((await call(stack, { authorization: `DPoP ${bound}`, dpop: once })).status, 200);
    const auditBefore = stack.audit.events.length;
    assertRefused(
      await call(stack, { authorization: `DPoP ${bound}`, dpop: once }),
      'invalid_dpop_proof',
      'dpop_proof_replayed',
    );
    const [event] = stack.audit.events.slice(auditBefore);
    assert.equal(event?.outcome, 'denied');
    assert.equal(event?.reason, 'dpop_proof_replayed');
    assert.equal(event?.initiator.sub, 'user-alice');
  });

  it('refuses a proof replayed at another instance sharing the Redis replay store', async () => {
    const once = await proof(bound);
    assert.equal((await call(stack, { authorization: `DPoP ${bound}`, dpop: once })).status, 200);
    const linesBefore = second.logLines.length;
    const answer = await call(stack, { authorization: `DPoP ${bound}`, dpop: once }, second.url);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_dpop_proof');
    assert.equal(JSON.parse(second.logLines[linesBefore]!).reason, 'dpop_proof_replayed');
    // The second instance, behind "a proxy" on another port, checks htu against its configured resource.
    const fresh = await call(stack, { authorization: `DPoP ${bound}`, dpop: await proof(bound) }, second.url);
    assert.equal(fresh.status, 200);
  });

  it('refuses a proof for another URL (htu) or another method (htm)', async () => {
    assertRefused(
      await call(stack, {
        authorization: `DPoP ${bound}`,
        dpop: await proof(bound, {}, key, 'POST', `${new URL(stack.resource).origin}/other`),
      }),
      'invalid_dpop_proof',
      'dpop_htu_mismatch',
    );
    assertRefused(
      await call(stack, { authorization: `DPoP ${bound}`, dpop: await proof(bound, {}, key, 'GET') }),
      'invalid_dpop_proof',
      'dpop_htm_mismatch',
    );
  });

  it('refuses a stale proof and one from the future (iat)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 600, now + 600])
      assertRefused(
        await call(stack, { authorization: `DPoP ${bound}`, dpop: await proof(bound, { claims: { iat } }) }),
        'invalid_dpop_proof',
        'dpop_iat_invalid',
      );
  });

  it('refuses a DPoP-bound token without a proof', async () => {
    assertRefused(
      await call(stack, { authorization: `DPoP ${bound}` }),
      'invalid_dpop_proof',
      'dpop_proof_missing',
    );
  });

  it('refuses a DPoP-bound token presented as a Bearer token (downgrade)', async () => {
    const answer = await call(stack, { authorization: `Bearer ${bound}`, dpop: await proof(bound) });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
    assert.equal(answer.reason, 'dpop_bound_token_as_bearer');
    assert.match(answer.challenge, /^Bearer .*error="invalid_token".*, DPoP algs=/);
  });

  it('refuses a proof signed by another key than the token is bound to (jkt)', async () => {
    assertRefused(
      await call(stack, { authorization: `DPoP ${bound}`, dpop: await proof(bound, {}, other) }),
      'invalid_dpop_proof',
      'dpop_key_mismatch',
    );
  });

  it('refuses a proof made for another access token (ath)', async () => {
    assertRefused(
      await call(stack, { authorization: `DPoP ${bound}`, dpop: await proof('another.access.token') }),
      'invalid_dpop_proof',
      'dpop_ath_mismatch',
    );
  });

  it('refuses alg none and HS256 proofs', async () => {
    const claims = {
      jti: crypto.randomUUID(),
      htm: 'POST',
      htu: stack.resource,
      iat: Math.floor(Date.now() / 1000),
      nonce: nonces.issue(),
    };
    for (const alg of ['none', 'HS256'] as const)
      assertRefused(
        await call(stack, {
          authorization: `DPoP ${bound}`,
          dpop: unsignedOrSymmetricProof(alg, key, claims),
        }),
        'invalid_dpop_proof',
        'dpop_alg_not_allowed',
      );
  });

  it('refuses a proof carrying its private key in the jwk header', async () => {
    assertRefused(
      await call(stack, {
        authorization: `DPoP ${bound}`,
        dpop: await proof(bound, { header: { jwk: key.privateJwk } }),
      }),
      'invalid_dpop_proof',
      'dpop_jwk_invalid',
    );
  });

  it('refuses a certificate-bound token with no client certificate, or another certificate', async () => {
    const certBound = await probe.forge(probe.claims({ cnf: { 'x5t#S256': CERTIFICATE.thumbprint } }));
    const request = () =>
      new Request(stack.resource, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${certBound}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          host: new URL(stack.resource).host,
        },
        body: TOOL_CALL,
      });
    for (const [clientCertificate, reason] of [
      [undefined, 'certificate_missing'],
      [{ ...CERTIFICATE, thumbprint: 'x5t-of-another-certificate' }, 'certificate_mismatch'],
    ] as const) {
      const linesBefore = stack.logLines.length;
      const admission = await stack.boundary.admit(request(), { clientCertificate });
      assert.equal(admission.admitted, false);
      if (admission.admitted) return;
      assert.equal(admission.response.status, 401);
      assert.equal((await admission.response.json()).error, 'invalid_token');
      const logged = stack.logLines.slice(linesBefore).map((line) => JSON.parse(line).reason);
      assert.ok(logged.includes(reason), `${reason} in ${logged}`);
    }
    const admitted = await stack.boundary.admit(request(), { clientCertificate: CERTIFICATE });
    assert.equal(admitted.admitted, true);
    if (admitted.admitted) admitted.end();
  });

  it('keeps bearer envelopes as they were: confidence medium, no binding member', async () => {
    stack.observed.length = 0;
    const answer = await call(stack, { authorization: `Bearer ${await probe.forge()}` });
    assert.equal(answer.status, 200);
    const { authorization } = stack.observed.at(-1)!.identity;
    assert.deepEqual(authorization, { scopes: ['orders:read', 'orders:write'], confidence: 'medium' });
  });

  it('a plain SDK tool finds neither the DPoP-bound token nor its proof in its request or context', async () => {
    stack.observed.length = 0;
    const once = await proof(bound);
    const response = await fetch(stack.resource, {
      method: 'POST',
      headers: {
        authorization: `DPoP ${bound}`,
        dpop: once,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'plain_sdk_tool', arguments: {} },
      }),
    });
    await response.text();
    assert.equal(response.status, 200);
    const ctx = stack.observed[0]!.rawContext as { http?: { req?: Request } };
    assert.equal(ctx.http?.req?.headers.get('dpop') ?? null, null);
    assert.equal(ctx.http?.req?.headers.get('authorization') ?? null, null);
    for (const secret of [bound, once, once.split('.')[2]!]) assert.equal(reaches(ctx, secret), undefined);
  });

  it('never logs or audits a token or a proof', async () => {
    const once = await proof(bound);
    await call(stack, { authorization: `DPoP ${bound}`, dpop: once });
    await call(stack, { authorization: `DPoP ${bound}`, dpop: once });
    const written = [...stack.logLines, JSON.stringify(stack.audit.events)].join('\n');
    for (const secret of [bound, once, bound.split('.')[2]!, once.split('.')[2]!])
      assert.equal(written.includes(secret), false);
  });
});

/** Another boundary instance of the same resource (same IdP, envelope keys, replay store), on its own port. */
async function secondInstance(stack: Stack, replay: DpopReplayStore) {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const logLines: string[] = [];
  const logger = createLogger({
    name: 'second-instance',
    destination: new Writable({
      write(chunk, _encoding, callback) {
        logLines.push(String(chunk));
        callback();
      },
    }) as never,
  });
  const boundary = new IdentityBoundary({
    logger,
    resource: stack.resource,
    authorizationServers: [stack.idp.issuer],
    tokenVerifier: jwtAccessTokenVerifier({ issuer: stack.idp.issuer, audience: stack.resource }),
    envelopes: new EnvelopeIssuer({ issuer: stack.resource, trustDomain: TRUST_DOMAIN, keys: stack.ring }),
    audit: new MemoryAuditSink(),
    scopesSupported: SCOPES,
    senderConstraint: { dpop: { replay, nonces: { secret: NONCE_SECRET } } },
  });
  const mcp = createMcpHandler(() => buildOrdersServer(boundary, []));
  serveNodeRequests(http, boundary.protect(mcp));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}${new URL(stack.resource).pathname}`;
  return {
    url,
    logLines,
    async close() {
      await mcp.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

describe('DPoP through every supported MCP server stack (adapters translate, the boundary decides)', () => {
  for (const { name, mount } of STACKS) {
    describe(name, () => {
      let stack: Stack;
      let key: DpopKey;
      let bound: string;
      before(async () => {
        stack = await startStack({
          mount,
          boundary: {
            senderConstraint: {
              dpop: { replay: new MemoryDpopReplayStore(), nonces: { secret: NONCE_SECRET } },
            },
          },
        });
        key = await dpopKey();
        const probe = await refusalProbe(stack);
        bound = await probe.forge(probe.claims({ cnf: { jkt: key.jkt } }));
      });
      after(() => stack.close());

      it('serves a DPoP-bound call with a fresh DPoP-Nonce, envelope confidence high, and refuses its replay', async () => {
        stack.observed.length = 0;
        const proof = await key.proof('POST', stack.resource, bound, { claims: { nonce: nonces.issue() } });
        const served = await call(stack, { authorization: `DPoP ${bound}`, dpop: proof });
        assert.equal(served.status, 200);
        assert.ok(served.nonce, 'DPoP-Nonce on success');
        assert.equal(stack.observed.at(-1)?.identity.authorization.confidence, 'high');
        assert.equal(stack.observed.at(-1)?.identity.authorization.binding, 'dpop');
        const replayed = await call(stack, { authorization: `DPoP ${bound}`, dpop: proof });
        assertRefused(replayed, 'invalid_dpop_proof', 'dpop_proof_replayed');
      });
    });
  }
});

describe('DPoP with opaque tokens: cnf from introspection (RFC 7662, RFC 9449 §6.2)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      tokenFormat: 'opaque',
      boundary: { senderConstraint: { dpop: { replay: new MemoryDpopReplayStore() } } },
    });
  });
  after(() => stack.close());

  it('the SDK client gets an opaque DPoP-bound token and the boundary checks its proofs (confidence high)', async () => {
    const provider = new ScriptedAgentProvider({
      credentials: DEMO_USERS.bob,
      clientName: 'opaque dpop agent',
      dpop: true,
    });
    const client = await signedInClient(stack, provider, 'opaque-dpop-agent');
    stack.observed.length = 0;
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    assert.equal(provider.tokens()?.token_type, 'DPoP');
    assert.equal(stack.observed.at(-1)?.identity.authorization.binding, 'dpop');
    // Presented as a bearer token, the same opaque token is refused: its binding came from introspection.
    const answer = await call(stack, { authorization: `Bearer ${provider.tokens()!.access_token}` });
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'dpop_bound_token_as_bearer');
  });
});

describe('DPoP required (RFC 9728 dpop_bound_access_tokens_required)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      boundary: { senderConstraint: { dpop: { replay: new MemoryDpopReplayStore(), required: true } } },
    });
  });
  after(() => stack.close());

  it('refuses a bearer token with a DPoP challenge only, and says so in its metadata', async () => {
    const metadata = await (await fetch(stack.boundary.resourceMetadataUrl)).json();
    assert.equal(metadata.dpop_bound_access_tokens_required, true);
    const probe = await refusalProbe(stack);
    const answer = await call(stack, { authorization: `Bearer ${await probe.forge()}` });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
    assert.equal(answer.reason, 'dpop_required');
    assert.match(answer.challenge, /^DPoP algs="/);
    assert.doesNotMatch(answer.challenge, /Bearer/);
  });

  it('refuses a plain bearer token presented with the DPoP scheme and a proof (it binds nothing)', async () => {
    const probe = await refusalProbe(stack);
    const unbound = await probe.forge();
    const key = await dpopKey();
    const answer = await call(stack, {
      authorization: `DPoP ${unbound}`,
      dpop: await key.proof('POST', stack.resource, unbound),
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'dpop_token_not_bound');
  });

  it('the SDK client with DPoP is served', async () => {
    const provider = new ScriptedAgentProvider({
      credentials: DEMO_USERS.alice,
      clientName: 'required dpop agent',
      dpop: true,
    });
    const client = await signedInClient(stack, provider, 'required-dpop-agent');
    const result = await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    assert.notEqual(result.isError, true);
    assert.equal(provider.tokens()?.token_type, 'DPoP');
  });
});
