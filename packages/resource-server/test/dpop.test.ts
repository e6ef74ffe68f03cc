import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import {
  BearerError,
  bearerErrorResponse,
  type ClientCertificate,
  DpopNonces,
  DpopProofVerifier,
  type DpopReplayStore,
  dpopHtu,
  extractAccessToken,
  MemoryDpopReplayStore,
  protectedResourceMetadata,
  SenderConstraints,
} from '../src/index.ts';
import { RedisDpopReplayStore } from '../src/redis/index.ts';
import { type DpopKey, dpopKey, unsignedOrSymmetricProof } from './fixtures/dpop-proof.ts';

const HTU = 'https://orders.example/mcp';
const TOKEN = 'header.payload.signature';
const SECRET = 'a nonce secret shared by every instance, 32+ bytes';

/** Asserts `promise` rejects with a `BearerError` of this `error` and private `reason`. */
async function refused(promise: Promise<unknown>, error: string, reason: string, status = 401) {
  await assert.rejects(promise, (thrown: unknown) => {
    assert.ok(thrown instanceof BearerError, `not a BearerError: ${thrown}`);
    assert.equal(thrown.error, error);
    assert.equal(thrown.reason, reason);
    assert.equal(thrown.status, status);
    return true;
  });
}

function headers(init: Record<string, string>): Headers {
  return new Headers(init);
}

describe('DPoP proof verification (RFC 9449 §4.3)', () => {
  let key: DpopKey;
  let other: DpopKey;
  let verifier: DpopProofVerifier;
  const context = () => ({ method: 'POST', htu: HTU, accessToken: TOKEN, jkt: key.jkt });
  before(async () => {
    key = await dpopKey();
    other = await dpopKey();
    verifier = new DpopProofVerifier({ replay: new MemoryDpopReplayStore() });
  });

  it('accepts a fresh proof by the bound key, for this method, URL and token', async () => {
    const verified = await verifier.verify(await key.proof('POST', `${HTU}?q=1#f`, TOKEN), context());
    assert.equal(verified.jkt, key.jkt);
  });

  it('refuses a replayed proof (same jti twice)', async () => {
    const proof = await key.proof('POST', HTU, TOKEN);
    await verifier.verify(proof, context());
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_proof_replayed');
  });

  it('refuses a proof for another URL (htu)', async () => {
    const proof = await key.proof('POST', 'https://orders.example/other', TOKEN);
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_htu_mismatch');
  });

  it('refuses a proof for another method (htm)', async () => {
    const proof = await key.proof('GET', HTU, TOKEN);
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_htm_mismatch');
  });

  it('refuses a stale proof and one from the future (iat)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 120, now + 60]) {
      const proof = await key.proof('POST', HTU, TOKEN, { claims: { iat } });
      await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_iat_invalid');
    }
  });

  it('refuses a proof made for another access token (ath)', async () => {
    const proof = await key.proof('POST', HTU, 'another.access.token');
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_ath_mismatch');
  });

  it('refuses a proof signed by a key the token is not bound to (jkt)', async () => {
    const proof = await other.proof('POST', HTU, TOKEN);
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_key_mismatch');
  });

  it('refuses alg none and HS256 proofs', async () => {
    const claims = { jti: 'x', htm: 'POST', htu: HTU, iat: Math.floor(Date.now() / 1000) };
    for (const alg of ['none', 'HS256'] as const)
      await refused(
        verifier.verify(unsignedOrSymmetricProof(alg, key, claims), context()),
        'invalid_dpop_proof',
        'dpop_alg_not_allowed',
      );
  });

  it('refuses a proof with the private key embedded in its jwk', async () => {
    const proof = await key.proof('POST', HTU, TOKEN, { header: { jwk: key.privateJwk } });
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_jwk_invalid');
  });

  it('refuses a proof whose typ is not dpop+jwt', async () => {
    const proof = await key.proof('POST', HTU, TOKEN, { header: { typ: 'JWT' } });
    await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_typ_invalid');
  });

  it('refuses a proof whose signature does not verify with its jwk', async () => {
    const proof = await key.proof('POST', HTU, TOKEN, { header: { jwk: other.publicJwk } });
    await refused(
      verifier.verify(proof, { ...context(), jkt: other.jkt }),
      'invalid_dpop_proof',
      'dpop_signature_invalid',
    );
  });

  it('refuses a proof that is no JWS, and one without a usable jti (dpop_proof_malformed)', async () => {
    await refused(verifier.verify('not-a-jws', context()), 'invalid_dpop_proof', 'dpop_proof_malformed');
    for (const jti of [undefined, '', 'j'.repeat(300)]) {
      const proof = await key.proof('POST', HTU, TOKEN, { claims: { jti } });
      await refused(verifier.verify(proof, context()), 'invalid_dpop_proof', 'dpop_proof_malformed');
    }
  });

  it('does not spend the jti of a proof refused for another reason', async () => {
    const store = new MemoryDpopReplayStore();
    const strict = new DpopProofVerifier({ replay: store });
    await refused(
      strict.verify(await other.proof('POST', HTU, TOKEN), context()),
      'invalid_dpop_proof',
      'dpop_key_mismatch',
    );
    assert.equal(store.size, 0);
  });

  it('fails closed (503) when the replay store cannot answer', async () => {
    const broken = new DpopProofVerifier({
      replay: { unique: () => Promise.reject(new Error('down')) },
    });
    await refused(
      broken.verify(await key.proof('POST', HTU, TOKEN), context()),
      'temporarily_unavailable',
      'dpop_replay_check_unavailable',
      503,
    );
  });

  it('requires security options at construction', () => {
    assert.throws(() => new DpopProofVerifier({} as never), TypeError);
    assert.throws(
      () => new DpopProofVerifier({ replay: new MemoryDpopReplayStore(), algorithms: ['HS256'] }),
      TypeError,
    );
    assert.throws(() => new DpopNonces({ secret: 'short' }), TypeError);
  });

  it('compares htu without query and fragment, normalised', () => {
    assert.equal(dpopHtu('HTTPS://Orders.Example:443/mcp?x=1#y'), HTU);
    assert.equal(dpopHtu('ftp://x/'), undefined);
  });
});

describe('DPoP server nonces (RFC 9449 §9), stateless across instances', () => {
  let key: DpopKey;
  before(async () => {
    key = await dpopKey();
  });
  const verifierWithNonces = () =>
    new DpopProofVerifier({ replay: new MemoryDpopReplayStore(), nonces: { secret: SECRET } });
  const context = () => ({ method: 'POST', htu: HTU, accessToken: TOKEN, jkt: key.jkt });

  it('answers a proof without a nonce with use_dpop_nonce and a nonce, then accepts the retry (at another instance)', async () => {
    let nonce: string | undefined;
    await assert.rejects(
      verifierWithNonces().verify(await key.proof('POST', HTU, TOKEN), context()),
      (error) => {
        assert.ok(error instanceof BearerError);
        assert.equal(error.error, 'use_dpop_nonce');
        assert.equal(error.reason, 'dpop_nonce_required');
        nonce = error.dpopNonce;
        return true;
      },
    );
    assert.ok(nonce);
    // A second instance with the same secret accepts the first one's nonce.
    await verifierWithNonces().verify(await key.proof('POST', HTU, TOKEN, { claims: { nonce } }), context());
  });

  it('refuses a forged nonce and an expired one', async () => {
    const forged = new DpopNonces({ secret: 'another secret, of another deployment!!' }).issue();
    await refused(
      verifierWithNonces().verify(
        await key.proof('POST', HTU, TOKEN, { claims: { nonce: forged } }),
        context(),
      ),
      'use_dpop_nonce',
      'dpop_nonce_invalid',
    );
    const expired = new DpopNonces({ secret: SECRET }).issue(Date.now() / 1000 - 3600);
    await refused(
      verifierWithNonces().verify(
        await key.proof('POST', HTU, TOKEN, { claims: { nonce: expired } }),
        context(),
      ),
      'use_dpop_nonce',
      'dpop_nonce_expired',
    );
  });

  it('sends the nonce as DPoP-Nonce with a DPoP challenge', async () => {
    const error = new DpopNonces({ secret: SECRET });
    const response = bearerErrorResponse(
      new BearerError({
        error: 'use_dpop_nonce',
        status: 401,
        reason: 'dpop_nonce_required',
        description: 'x',
        dpopNonce: error.issue(),
      }),
      { dpop: { algorithms: ['ES256'], bearer: true } },
    );
    assert.equal(response.status, 401);
    assert.ok(response.headers.get('dpop-nonce'));
    assert.match(response.headers.get('www-authenticate')!, /^DPoP algs="ES256", error="use_dpop_nonce"/);
  });
});

/** The replay store contract, run against each implementation. */
function replayStoreConformance(
  name: string,
  open: () => Promise<{ store: DpopReplayStore; close(): Promise<void> }>,
) {
  describe(`DpopReplayStore conformance: ${name}`, () => {
    let store: DpopReplayStore;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await open());
    });
    after(() => close());

    it('records a jti once, across instances sharing it', async () => {
      const jti = `jti-${crypto.randomUUID()}`;
      const expires = Math.floor(Date.now() / 1000) + 60;
      assert.equal(await store.unique(jti, expires), true);
      assert.equal(await store.unique(jti, expires), false);
    });
  });
}

replayStoreConformance('memory', async () => ({ store: new MemoryDpopReplayStore(), close: async () => {} }));
replayStoreConformance('redis', async () => {
  const redis = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
  return {
    store: new RedisDpopReplayStore({ redis, keyPrefix: `baton:test:dpop:${crypto.randomUUID()}:` }),
    close: async () => {
      await redis.close();
    },
  };
});

describe('memory replay store bounds', () => {
  it('fails closed when full of live proofs rather than forget one', async () => {
    const store = new MemoryDpopReplayStore({ maxEntries: 2 });
    const expires = Math.floor(Date.now() / 1000) + 60;
    await store.unique('a', expires);
    await store.unique('b', expires);
    await assert.rejects(store.unique('c', expires));
    assert.equal(await store.unique('a', expires), false, 'what it holds stays held');
  });

  it("refuses a single key's proof flood without refusing other clients", async () => {
    const [flooder, client] = [await dpopKey(), await dpopKey()];
    const verifier = new DpopProofVerifier({
      replay: new MemoryDpopReplayStore({ maxEntries: 4, maxEntriesPerKey: 2 }),
    });
    const of = (key: DpopKey) => ({ method: 'POST', htu: HTU, accessToken: TOKEN, jkt: key.jkt });
    for (let i = 0; i < 2; i++) await verifier.verify(await flooder.proof('POST', HTU, TOKEN), of(flooder));
    await refused(
      verifier.verify(await flooder.proof('POST', HTU, TOKEN), of(flooder)),
      'invalid_dpop_proof',
      'dpop_replay_quota',
    );
    const verified = await verifier.verify(await client.proof('POST', HTU, TOKEN), of(client));
    assert.equal(verified.jkt, client.jkt, 'another key is still served');
  });

  it('refuses a proof for another key before spending a signature check on it', async () => {
    const [bound, stranger] = [await dpopKey(), await dpopKey()];
    const verifier = new DpopProofVerifier({ replay: new MemoryDpopReplayStore() });
    const proof = await stranger.proof('POST', HTU, TOKEN);
    const forged = `${proof.slice(0, proof.lastIndexOf('.'))}.${'A'.repeat(86)}`;
    await refused(
      verifier.verify(forged, { method: 'POST', htu: HTU, accessToken: TOKEN, jkt: bound.jkt }),
      'invalid_dpop_proof',
      'dpop_key_mismatch',
    );
  });

  it('drops expired proofs to make room', async () => {
    const store = new MemoryDpopReplayStore({ maxEntries: 1 });
    await store.unique('a', Math.floor(Date.now() / 1000) - 1);
    assert.equal(await store.unique('b', Math.floor(Date.now() / 1000) + 60), true);
  });
});

describe('sender-constraint check (RFC 9449 §7, RFC 8705 §3)', () => {
  let key: DpopKey;
  const certificate: ClientCertificate = {
    thumbprint: 'cert-thumbprint-a',
    spiffeId: 'spiffe://baton.test/orders',
    uris: ['spiffe://baton.test/orders'],
    subject: 'CN=orders',
  };
  before(async () => {
    key = await dpopKey();
  });
  const constraints = (required = false) =>
    new SenderConstraints({ dpop: { replay: new MemoryDpopReplayStore(), required }, mtls: {} });
  const request = (clientCertificate?: ClientCertificate) => ({
    method: 'POST',
    htu: HTU,
    clientCertificate,
  });

  it('accepts a DPoP-bound token with its proof, reporting the key', async () => {
    const presented = extractAccessToken(
      headers({ authorization: `DPoP ${TOKEN}`, dpop: await key.proof('POST', HTU, TOKEN) }),
    );
    assert.deepEqual(await constraints().check({ cnf: { jkt: key.jkt } }, presented, request()), {
      method: 'dpop',
      jkt: key.jkt,
    });
  });

  it('refuses a DPoP-bound token presented as a Bearer token (downgrade)', async () => {
    const presented = extractAccessToken(
      headers({ authorization: `Bearer ${TOKEN}`, dpop: await key.proof('POST', HTU, TOKEN) }),
    );
    await refused(
      constraints().check({ cnf: { jkt: key.jkt } }, presented, request()),
      'invalid_token',
      'dpop_bound_token_as_bearer',
    );
  });

  it('refuses a DPoP-bound token without a proof', async () => {
    const presented = extractAccessToken(headers({ authorization: `DPoP ${TOKEN}` }));
    await refused(
      constraints().check({ cnf: { jkt: key.jkt } }, presented, request()),
      'invalid_dpop_proof',
      'dpop_proof_missing',
    );
  });

  it('refuses the DPoP scheme where DPoP is not configured, and a malformed DPoP Authorization header (400)', () => {
    const bearerOnly = new SenderConstraints({ mtls: {} });
    for (const [presented, description] of [
      [() => bearerOnly.presented(headers({ authorization: `DPoP ${TOKEN}` })), /'Bearer' tokens only/],
      [
        () => constraints().presented(headers({ authorization: 'DPoP two tokens' })),
        /'DPoP' followed by one token/,
      ],
    ] as const) {
      assert.throws(presented, (error: BearerError) => {
        assert.equal(error.error, 'invalid_request');
        assert.equal(error.status, 400);
        assert.equal(error.reason, 'authorization_header_malformed');
        assert.match(error.description, description);
        return true;
      });
    }
  });

  it('refuses two DPoP headers', () => {
    const both = new Headers({ authorization: `DPoP ${TOKEN}` });
    both.append('dpop', 'a.b.c');
    both.append('dpop', 'd.e.f');
    assert.throws(
      () => extractAccessToken(both),
      (error: BearerError) => error.reason === 'dpop_header_repeated',
    );
  });

  it('refuses an unbound token under the DPoP scheme, and a bearer token where DPoP is required', async () => {
    const asDpop = extractAccessToken(
      headers({ authorization: `DPoP ${TOKEN}`, dpop: await key.proof('POST', HTU, TOKEN) }),
    );
    await refused(constraints().check({}, asDpop, request()), 'invalid_token', 'dpop_token_not_bound');
    const asBearer = extractAccessToken(headers({ authorization: `Bearer ${TOKEN}` }));
    await refused(constraints(true).check({}, asBearer, request()), 'invalid_token', 'dpop_required');
    assert.equal(await constraints(false).check({}, asBearer, request()), undefined, 'bearer stays bearer');
  });

  it('treats an unbound Bearer token with a stray DPoP header as a bearer token, and spends no proof on it', async () => {
    // RFC 9449 §7.2 leaves this to the resource: where DPoP is not required, the Bearer scheme decides.
    // The proof is neither checked nor recorded, so it cannot be used to burn the key's jti.
    const replay = new MemoryDpopReplayStore();
    const lenient = new SenderConstraints({ dpop: { replay, required: false }, mtls: {} });
    const proof = await key.proof('POST', HTU, TOKEN);
    const presented = extractAccessToken(headers({ authorization: `Bearer ${TOKEN}`, dpop: proof }));
    assert.equal(await lenient.check({}, presented, request()), undefined, 'a bearer request');
    const bound = extractAccessToken(headers({ authorization: `DPoP ${TOKEN}`, dpop: proof }));
    assert.deepEqual(await lenient.check({ cnf: { jkt: key.jkt } }, bound, request()), {
      method: 'dpop',
      jkt: key.jkt,
    });
  });

  it('refuses a certificate-bound token without a certificate, or with another one', async () => {
    const presented = extractAccessToken(headers({ authorization: `Bearer ${TOKEN}` }));
    const claims = { cnf: { 'x5t#S256': certificate.thumbprint } };
    await refused(constraints().check(claims, presented, request()), 'invalid_token', 'certificate_missing');
    await refused(
      constraints().check(claims, presented, request({ ...certificate, thumbprint: 'cert-thumbprint-b' })),
      'invalid_token',
      'certificate_mismatch',
    );
    assert.deepEqual(await constraints().check(claims, presented, request(certificate)), {
      method: 'mtls',
      thumbprint: certificate.thumbprint,
      spiffeId: certificate.spiffeId,
    });
  });

  it('refuses a cnf member it cannot check, and any cnf where the method is not enabled', async () => {
    const presented = extractAccessToken(headers({ authorization: `Bearer ${TOKEN}` }));
    await refused(
      constraints().check({ cnf: { 'x5t#S1': 'x' } }, presented, request()),
      'invalid_token',
      'cnf_unsupported',
    );
    await refused(
      new SenderConstraints().check({ cnf: { 'x5t#S256': 'x' } }, presented, request(certificate)),
      'invalid_token',
      'cnf_unsupported',
    );
    await refused(
      new SenderConstraints().check({ cnf: { jkt: key.jkt } }, presented, request()),
      'invalid_token',
      'cnf_unsupported',
    );
  });

  it('publishes RFC 9728 metadata for its bindings', () => {
    const document = protectedResourceMetadata({
      resource: HTU,
      authorizationServers: ['https://idp.example'],
      dpopSigningAlgValuesSupported: ['ES256'],
      dpopBoundAccessTokensRequired: true,
      tlsClientCertificateBoundAccessTokens: true,
    });
    assert.deepEqual(document.dpop_signing_alg_values_supported, ['ES256']);
    assert.equal(document.dpop_bound_access_tokens_required, true);
    assert.equal(document.tls_client_certificate_bound_access_tokens, true);
    assert.deepEqual(constraints(true).metadata().dpop_bound_access_tokens_required, true);
  });
});
