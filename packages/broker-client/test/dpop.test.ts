import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import { dpopKey } from '../src/index.ts';

describe('dpopKey: RFC 9449 §4.2 proofs', () => {
  it('signs a dpop+jwt with the public key embedded, htm/htu/iat/jti, and no private member', async () => {
    const key = await dpopKey();
    const proof = await key.proof({ method: 'post', url: 'https://broker.example/token?x=1#frag' });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.equal(payload.htm, 'POST');
    assert.equal(payload.htu, 'https://broker.example/token', 'without query and fragment (§4.2)');
    assert.equal(typeof payload.iat, 'number');
    assert.equal(typeof payload.jti, 'string');
    assert.equal((protectedHeader.jwk as Record<string, unknown>).d, undefined, 'never the private key');
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk!), key.thumbprint);
    const second = await key.proof({ method: 'POST', url: 'https://broker.example/token' });
    assert.notEqual((await jwtVerify(second, EmbeddedJWK)).payload.jti, payload.jti, 'a fresh jti each time');
  });

  it('binds a proof to the access token it accompanies (ath) and carries the server nonce of that origin', async () => {
    const key = await dpopKey();
    key.acceptNonce('https://api.example/anything', 'nonce-1');
    const proof = await key.proof({
      method: 'GET',
      url: 'https://api.example/orders',
      accessToken: 'token-value',
    });
    const { payload } = await jwtVerify(proof, EmbeddedJWK);
    assert.equal(payload.ath, createHash('sha256').update('token-value').digest('base64url'));
    assert.equal(payload.nonce, 'nonce-1');
    const elsewhere = await key.proof({ method: 'GET', url: 'https://other.example/' });
    assert.equal((await jwtVerify(elsewhere, EmbeddedJWK)).payload.nonce, undefined, 'a nonce is per server');
    assert.equal(decodeProtectedHeader(proof).alg, 'ES256');
  });

  it('refuses to put private JWK members in a DPoP proof header', async () => {
    const { privateKey } = await generateKeyPair('PS256', { extractable: true });
    const key = await dpopKey({ ...(await exportJWK(privateKey)), alg: 'PS256', kid: 'k1' });
    const proof = await key.proof({ method: 'POST', url: 'https://broker.example/token' });
    const { protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.deepEqual(
      Object.keys(protectedHeader.jwk!).sort(),
      ['e', 'kty', 'n'],
      'no d, p, q, dp, dq, qi, kid',
    );
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk!), key.thumbprint);
    await assert.rejects(
      dpopKey({ kty: 'oct', k: 'c2VjcmV0', d: 'x' } as never),
      TypeError,
      'a symmetric key',
    );
  });

  it('refuses a public key (it cannot sign proofs)', async () => {
    await assert.rejects(dpopKey({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }), TypeError);
  });
});
