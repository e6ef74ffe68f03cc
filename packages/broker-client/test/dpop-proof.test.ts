import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { DpopNonces, dpopKey, dpopProof, generateDpopKey } from '../src/index.ts';

describe('DPoP proofs (RFC 9449 §4)', () => {
  it('covers one request: typ, the public key, jti, htm, htu without query or fragment, iat, ath, nonce', async () => {
    const key = await generateDpopKey();
    const proof = await dpopProof(key, {
      method: 'post',
      url: 'https://api.example:8443/orders/7?full=1#top',
      accessToken: 'token-value',
      nonce: 'n-1',
    });
    const header = decodeProtectedHeader(proof);
    assert.equal(header.typ, 'dpop+jwt');
    assert.equal(header.alg, 'ES256');
    assert.equal(await calculateJwkThumbprint(header.jwk!), key.jkt);
    const claims = decodeJwt(proof);
    assert.equal(claims.htm, 'POST');
    assert.equal(claims.htu, 'https://api.example:8443/orders/7');
    assert.equal(claims.ath, createHash('sha256').update('token-value').digest('base64url'));
    assert.equal(claims.nonce, 'n-1');
    assert.ok(Math.abs((claims.iat ?? 0) - Date.now() / 1000) < 5);
    const again = decodeJwt(await dpopProof(key, { method: 'GET', url: 'https://api.example/' }));
    assert.notEqual(again.jti, claims.jti);
    assert.equal('ath' in again, false);
  });

  it('refuses a public JWK that carries the private key (it would go into every proof header)', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    await assert.rejects(
      dpopKey({ alg: 'ES256', privateKey, publicJwk: await exportJWK(privateKey) }),
      /private key material/,
    );
  });

  it('refuses a key pair that does not match, and a symmetric algorithm', async () => {
    const one = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    await assert.rejects(
      dpopKey({ alg: 'ES256', privateKey: one.privateKey, publicJwk: await exportJWK(other.publicKey) }),
      /not one key pair/,
    );
    await assert.rejects(
      dpopKey({
        alg: 'HS256' as never,
        privateKey: one.privateKey,
        publicJwk: await exportJWK(one.publicKey),
      }),
      /not an asymmetric JWS algorithm/,
    );
  });

  it('keeps each origin its own nonce, and never one that is not a well-formed nonce', () => {
    const nonces = new DpopNonces({ maxOrigins: 2 });
    const answer = (nonce: string) => new Response(null, { headers: { 'dpop-nonce': nonce } });
    nonces.remember('https://a.example/x', answer('a-1'));
    nonces.remember('https://b.example/x', answer('b "quoted"'));
    assert.equal(nonces.nonceFor('https://a.example/other'), 'a-1');
    assert.equal(nonces.nonceFor('https://b.example/x'), undefined);
    nonces.remember('https://b.example/x', answer('b-1'));
    nonces.remember('https://c.example/x', answer('c-1'));
    assert.equal(nonces.nonceFor('https://a.example/'), undefined, 'the oldest origin is forgotten');
    assert.equal(nonces.nonceFor('https://c.example/'), 'c-1');
  });
});
