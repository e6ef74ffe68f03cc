import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  EnvelopeIssuer,
  EnvelopeKeyRing,
  keyRingResolver,
  localJwksResolver,
  remoteJwksResolver,
  verifyEnvelope,
} from '../src/index.ts';
import { aliceBody, ISSUER, TRUST_DOMAIN, testClock } from './fixtures.ts';

describe('key rotation without downtime', () => {
  it('keeps verifying envelopes signed by the previous key until they have expired', async () => {
    const clock = testClock();
    const ring = EnvelopeKeyRing.generate({ retentionSeconds: 330 }, clock.now);
    const issuer = new EnvelopeIssuer({
      issuer: ISSUER,
      trustDomain: TRUST_DOMAIN,
      keys: ring,
      now: clock.now,
    });
    const options = {
      issuer: ISSUER,
      trustDomain: TRUST_DOMAIN,
      keys: keyRingResolver(ring),
      now: clock.now,
    };
    const before = issuer.mint(aliceBody()).token;
    const oldKid = ring.signingKey.kid;
    const newKid = ring.rotate();
    assert.notEqual(newKid, oldKid);
    const afterRotation = issuer.mint(aliceBody()).token;
    await verifyEnvelope(before, options);
    await verifyEnvelope(afterRotation, options);
    assert.deepEqual(
      ring
        .jwks()
        .keys.map((key) => key.kid)
        .sort(),
      [oldKid, newKid].sort(),
    );
    clock.advance(331);
    assert.deepEqual(
      ring.jwks().keys.map((key) => key.kid),
      [newKid],
      'the retired key leaves the JWKS after retention',
    );
    await assert.rejects(verifyEnvelope(before, options), { code: 'ERR_ENVELOPE_KEY_UNKNOWN' });
  });

  it('publishes a staged key before it signs anything', () => {
    const ring = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
    const active = ring.signingKey.kid;
    const staged = ring.stageNextKey();
    assert.equal(ring.signingKey.kid, active, 'staging does not change the signing key');
    assert.ok(ring.jwks().keys.some((key) => key.kid === staged));
    assert.equal(ring.rotate(), staged, 'rotation promotes the staged key');
  });

  it('publishes public keys only, each with kid, alg and use', () => {
    const ring = EnvelopeKeyRing.generate({ algorithm: 'EdDSA', retentionSeconds: 600 });
    ring.stageNextKey();
    for (const key of ring.jwks().keys) {
      assert.equal('d' in key, false, 'no private key material in the JWKS');
      assert.equal(key.alg, 'EdDSA');
      assert.equal(key.use, 'sig');
      assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('loads an operator-kept private JWK and refuses one without alg', () => {
    const ring = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
    const privateJwk = { ...ring.signingKey.privateKey.export({ format: 'jwk' }), alg: 'ES256' };
    const reloaded = EnvelopeKeyRing.fromPrivateJwk(privateJwk, { retentionSeconds: 600 });
    assert.equal(
      reloaded.signingKey.kid,
      ring.signingKey.kid,
      'kid is the RFC 7638 thumbprint, stable across restarts',
    );
    const { alg: _, ...withoutAlg } = privateJwk;
    assert.throws(() => EnvelopeKeyRing.fromPrivateJwk(withoutAlg, { retentionSeconds: 600 }), TypeError);
    assert.throws(
      () => EnvelopeKeyRing.fromPrivateJwk({ ...privateJwk, alg: 'EdDSA' }, { retentionSeconds: 600 }),
      TypeError,
    );
  });

  it('verifies from a JWKS document in hand and ignores keys without an allowed alg', async () => {
    const ring = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
    const issuer = new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: ring });
    const { token } = issuer.mint(aliceBody());
    const jwks = ring.jwks();
    await verifyEnvelope(token, { issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: localJwksResolver(jwks) });
    const stripped = { keys: jwks.keys.map(({ alg: _, ...key }) => key) };
    await assert.rejects(
      verifyEnvelope(token, { issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: localJwksResolver(stripped) }),
      { code: 'ERR_ENVELOPE_KEY_UNKNOWN' },
    );
  });
});

describe('remote JWKS verification', () => {
  const ring = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
  let fetches = 0;
  const server = createServer((_request, response) => {
    fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ring.jwks()));
  });
  let jwksUri: URL;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
  });
  after(() => server.close());

  it('fetches once, caches, and refreshes when the issuer rotates to an unknown kid', async () => {
    const issuer = new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: ring });
    const keys = remoteJwksResolver(jwksUri, { cooldownMs: 0 });
    const options = { issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys };
    for (let i = 0; i < 5; i++) await verifyEnvelope(issuer.mint(aliceBody()).token, options);
    assert.equal(fetches, 1, 'the JWKS is cached');
    ring.rotate();
    await verifyEnvelope(issuer.mint(aliceBody()).token, options);
    assert.equal(fetches, 2, 'an unknown kid triggers exactly one refresh');
  });

  it('refuses, with a clear code, when the JWKS endpoint is unreachable', async () => {
    const issuer = new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: ring });
    const keys = remoteJwksResolver(new URL('http://127.0.0.1:9/jwks'), { timeoutMs: 500 });
    await assert.rejects(
      verifyEnvelope(issuer.mint(aliceBody()).token, { issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys }),
      {
        code: 'ERR_ENVELOPE_KEY_UNKNOWN',
      },
    );
  });
});
