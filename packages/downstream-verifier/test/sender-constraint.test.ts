import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { type ClientCertificate, MemoryDpopReplayStore } from '@baton/resource-server';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { type DpopKey, dpopKey } from '../../resource-server/test/fixtures/dpop-proof.ts';
import { type DownstreamIdentity, downstreamVerifier, withDownstreamIdentity } from '../src/index.ts';
import { downstreamIdentityListener } from '../src/node.ts';

const BROKER = 'https://broker.baton.test';
const API = 'https://orders.internal/api';
const CERTIFICATE: ClientCertificate = {
  thumbprint: 'x5t-of-the-orders-mcp-certificate',
  spiffeId: 'spiffe://baton.test/orders-mcp',
  uris: ['spiffe://baton.test/orders-mcp'],
  subject: 'CN=orders-mcp',
};

describe('downstream verifier: tokens the broker binds to the calling service (RFC 9449, RFC 8705)', () => {
  let jwks: Server;
  let jwksUri: string;
  let signingKey: CryptoKey;
  let key: DpopKey;
  let handler: ReturnType<typeof withDownstreamIdentity>;
  const audit = new MemoryAuditSink();
  const served: DownstreamIdentity[] = [];

  /** A broker-issued token for this API (on behalf of alice, through orders-mcp), with `cnf`. */
  const token = (cnf?: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'user-alice',
      client_id: 'agent-1',
      scope: 'orders:read',
      tenant: 'acme',
      act: { sub: 'orders-mcp' },
      jti: randomUUID(),
      ...(cnf ? { cnf } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'broker-key' })
      .setIssuer(BROKER)
      .setAudience(API)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(signingKey);
  };
  const call = (headers: Record<string, string>, clientCertificate?: ClientCertificate) =>
    handler(new Request(`${API}/orders?page=1`, { headers }), clientCertificate ? { clientCertificate } : {});
  /** The audited reason of the last refusal. */
  const lastReason = () => audit.events.at(-1)?.reason;

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    signingKey = pair.privateKey;
    const publicJwk: JWK = {
      ...(await exportJWK(pair.publicKey)),
      kid: 'broker-key',
      alg: 'ES256',
      use: 'sig',
    };
    jwks = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const verifier = downstreamVerifier({
      audience: API,
      broker: { issuer: BROKER, jwksUri },
      senderConstraint: { dpop: { replay: new MemoryDpopReplayStore() }, mtls: {} },
    });
    handler = withDownstreamIdentity(
      { verifier, requiredScopes: ['orders:read'], audit },
      (_request, identity) => {
        served.push(identity);
        return Response.json({ ok: true });
      },
    );
    key = await dpopKey();
  });
  after(() => new Promise<void>((resolve) => jwks.close(() => resolve())));

  it('accepts a DPoP-bound token with its proof (htu: the public origin and path, without the query)', async () => {
    const bound = await token({ jkt: key.jkt });
    const response = await call({
      authorization: `DPoP ${bound}`,
      dpop: await key.proof('GET', `${new URL(API).origin}/api/orders`, bound),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(served.at(-1)?.senderConstraint, { method: 'dpop', jkt: key.jkt });
  });

  it('refuses a DPoP-bound token without a proof, and audits whom it stopped', async () => {
    const response = await call({ authorization: `DPoP ${await token({ jkt: key.jkt })}` });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error, 'invalid_dpop_proof');
    assert.match(
      response.headers.get('www-authenticate') ?? '',
      /^DPoP algs="[^"]+", .*error="invalid_dpop_proof"/,
    );
    assert.equal(lastReason(), 'dpop_proof_missing');
    assert.equal(audit.events.at(-1)?.initiator.sub, 'user-alice');
  });

  it('refuses a DPoP-bound token presented as a Bearer token', async () => {
    const bound = await token({ jkt: key.jkt });
    const response = await call({
      authorization: `Bearer ${bound}`,
      dpop: await key.proof('GET', `${new URL(API).origin}/api/orders`, bound),
    });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error, 'invalid_token');
    assert.equal(lastReason(), 'dpop_bound_token_as_bearer');
  });

  it("refuses a DPoP proof whose htu origin comes from a '//' request target", async () => {
    const bound = await token({ jkt: key.jkt });
    // `new URL('//evil.example/orders', origin)` would be https://evil.example/orders: a proof made
    // for another server would pass here.
    const response = await handler(
      new Request(`${new URL(API).origin}//evil.example/orders`, {
        headers: {
          authorization: `DPoP ${bound}`,
          dpop: await key.proof('GET', 'https://evil.example/orders', bound),
        },
      }),
    );
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error, 'invalid_dpop_proof');
    assert.equal(lastReason(), 'dpop_htu_mismatch');
  });

  it('refuses a replayed proof', async () => {
    const bound = await token({ jkt: key.jkt });
    const headers = {
      authorization: `DPoP ${bound}`,
      dpop: await key.proof('GET', `${new URL(API).origin}/api/orders`, bound),
    };
    assert.equal((await call(headers)).status, 200);
    const replayed = await call(headers);
    assert.equal(replayed.status, 401);
    assert.equal((await replayed.json()).error, 'invalid_dpop_proof');
    assert.equal(lastReason(), 'dpop_proof_replayed');
  });

  it('refuses a certificate-bound token without a client certificate, or with another one', async () => {
    const bound = await token({ 'x5t#S256': CERTIFICATE.thumbprint });
    const missing = await call({ authorization: `Bearer ${bound}` });
    assert.equal(missing.status, 401);
    assert.equal((await missing.json()).error, 'invalid_token');
    assert.equal(lastReason(), 'certificate_missing');
    const mismatch = await call(
      { authorization: `Bearer ${bound}` },
      { ...CERTIFICATE, thumbprint: 'another' },
    );
    assert.equal(mismatch.status, 401);
    assert.equal(lastReason(), 'certificate_mismatch');
    const matching = await call({ authorization: `Bearer ${bound}` }, CERTIFICATE);
    assert.equal(matching.status, 200);
    assert.deepEqual(served.at(-1)?.senderConstraint, {
      method: 'mtls',
      thumbprint: CERTIFICATE.thumbprint,
      spiffeId: CERTIFICATE.spiffeId,
    });
  });

  it('refuses any cnf at a verifier that does not check it, and a bound token verified without its request', async () => {
    const plain = downstreamVerifier({ audience: API, broker: { issuer: BROKER, jwksUri } });
    await assert.rejects(
      plain.verify(new Headers({ authorization: `Bearer ${await token({ 'x5t#S256': 'x' })}` }), [], {
        method: 'GET',
        path: '/api/orders',
        clientCertificate: { ...CERTIFICATE, thumbprint: 'x' },
      }),
      (error: { reason?: string }) => error.reason === 'cnf_unsupported',
    );
    const mtlsOnly = downstreamVerifier({
      audience: API,
      broker: { issuer: BROKER, jwksUri },
      senderConstraint: { mtls: {} },
    });
    await assert.rejects(
      mtlsOnly.verify(new Headers({ authorization: `Bearer ${await token({ 'x5t#S256': 'x' })}` })),
      (error: { reason?: string }) => error.reason === 'cnf_unsupported',
    );
    await assert.rejects(
      mtlsOnly.verify(new Headers({ authorization: `Bearer ${await token({ jkt: key.jkt })}` }), [], {
        method: 'GET',
        path: '/api/orders',
      }),
      (error: { reason?: string }) => error.reason === 'cnf_unsupported',
    );
  });

  it('checks DPoP through the Node adapter over real HTTP, htu from the public origin, not the Host it was reached at', async () => {
    const verifier = downstreamVerifier({
      audience: API,
      broker: { issuer: BROKER, jwksUri },
      senderConstraint: { dpop: { replay: new MemoryDpopReplayStore() } },
    });
    const server = createServer(
      downstreamIdentityListener(
        { verifier, requiredScopes: ['orders:read'] },
        (_request, response, identity) => {
          response.end(JSON.stringify(identity.senderConstraint));
        },
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/orders?page=2`;
      const bound = await token({ jkt: key.jkt });
      const proof = await key.proof('GET', `${new URL(API).origin}/api/orders`, bound);
      const served = await fetch(url, { headers: { authorization: `DPoP ${bound}`, dpop: proof } });
      assert.equal(served.status, 200);
      assert.deepEqual(await served.json(), { method: 'dpop', jkt: key.jkt });
      const replayed = await fetch(url, { headers: { authorization: `DPoP ${bound}`, dpop: proof } });
      assert.equal(replayed.status, 401);
      assert.equal((await replayed.json()).error, 'invalid_dpop_proof');
      const hostBased = await key.proof('GET', url, bound);
      const wrongHtu = await fetch(url, { headers: { authorization: `DPoP ${bound}`, dpop: hostBased } });
      assert.equal(wrongHtu.status, 401);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps serving bearer tokens as before (no senderConstraint member)', async () => {
    const response = await call({ authorization: `Bearer ${await token()}` });
    assert.equal(response.status, 200);
    assert.equal(served.at(-1)?.senderConstraint, undefined);
  });
});
