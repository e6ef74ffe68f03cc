import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signCompact } from '../src/compact-jws.ts';
import {
  type EnvelopeBody,
  type EnvelopeErrorCode,
  EnvelopeIssuer,
  EnvelopeKeyRing,
  keyRingResolver,
  MAX_CONTEXT_LENGTH,
  TXN_TOKEN_TYP,
  verifyEnvelope,
} from '../src/index.ts';
import { aliceBody, ISSUER, TRUST_DOMAIN, testClock } from './fixtures.ts';

// draft-ietf-oauth-transaction-tokens-10 §7 (format) and §10.2 (validation), claim by claim.

function setup() {
  const clock = testClock();
  const ring = EnvelopeKeyRing.generate({ retentionSeconds: 3600 }, clock.now);
  const issuer = new EnvelopeIssuer({
    issuer: ISSUER,
    trustDomain: TRUST_DOMAIN,
    keys: ring,
    now: clock.now,
  });
  const verifyOptions = {
    issuer: ISSUER,
    trustDomain: TRUST_DOMAIN,
    keys: keyRingResolver(ring),
    now: clock.now,
  };
  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
  const resign = (claims: Record<string, unknown>) =>
    signCompact(
      { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid },
      claims,
      ring.signingKey.privateKey,
    );
  return { issuer, verifyOptions, claimsOf, resign };
}

const withContext = (): EnvelopeBody => ({
  ...aliceBody(),
  details: { action: 'BUY', ticker: 'MSFT', quantity: 100, customer: { geo: 'US' } },
  request_context: { req_ip: '69.151.72.123', authn: 'face', transport: 'https' },
});

async function refusedWith(promise: Promise<unknown>, code: EnvelopeErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, `expected ${code}, got ${String(error)}`);
    return true;
  });
}

describe('Transaction Token claims (draft-10 §7.2)', () => {
  it('carries the delegation in tctx (mode, allowed, chain) and no top-level delegation claim', () => {
    const { issuer, claimsOf } = setup();
    const { envelope, token } = issuer.mint(aliceBody());
    const claims = claimsOf(token);
    assert.deepEqual(claims.tctx, {
      mode: 'service_identity',
      allowed: ['https://orders-api.example'],
      chain: [],
    });
    assert.deepEqual(claims.tctx, { ...envelope.delegation });
    assert.equal(claims.delegation, undefined);
  });

  it('carries request details in tctx.details and the request context in rctx, and reads them back', async () => {
    const { issuer, verifyOptions, claimsOf } = setup();
    const { envelope, token } = issuer.mint(withContext());
    const claims = claimsOf(token);
    assert.deepEqual(claims.tctx.details, {
      action: 'BUY',
      ticker: 'MSFT',
      quantity: 100,
      customer: { geo: 'US' },
    });
    assert.deepEqual(claims.rctx, { req_ip: '69.151.72.123', authn: 'face', transport: 'https' });
    const verified = await verifyEnvelope(token, verifyOptions);
    assert.deepEqual(verified, envelope);
    assert.equal(verified.details?.ticker, 'MSFT');
    assert.equal(verified.request_context?.req_ip, '69.151.72.123');
  });

  it('omits tctx.details and rctx when nothing was asserted', () => {
    const { issuer, claimsOf } = setup();
    const claims = claimsOf(issuer.mint(aliceBody()).token);
    assert.equal('details' in claims.tctx, false);
    assert.equal('rctx' in claims, false);
  });

  it('names the requesting workload in req_wl: the issuer by default, the requester when given', async () => {
    const { issuer, verifyOptions, claimsOf } = setup();
    const own = issuer.mint(aliceBody());
    assert.equal(claimsOf(own.token).req_wl, ISSUER);
    assert.equal(own.envelope.requesting_workload, ISSUER);
    const asked = issuer.mint(aliceBody(), { requestingWorkload: 'orders-mcp' });
    assert.equal(claimsOf(asked.token).req_wl, 'orders-mcp');
    assert.equal((await verifyEnvelope(asked.token, verifyOptions)).requesting_workload, 'orders-mcp');
    assert.throws(() => issuer.mint(aliceBody(), { requestingWorkload: '' }), TypeError);
  });

  it('sets aud to the trust domain and txn to the trace id', () => {
    const { issuer, claimsOf } = setup();
    const { envelope, token } = issuer.mint(aliceBody());
    const claims = claimsOf(token);
    assert.equal(claims.aud, TRUST_DOMAIN);
    assert.equal(claims.txn, envelope.session.trace_id);
  });

  it('refuses to mint an rctx with members the schema does not name, a bad IP, or oversized details', () => {
    const { issuer } = setup();
    for (const body of [
      { ...aliceBody(), request_context: { req_ip: '69.151.72.123', user_agent: 'x' } },
      { ...aliceBody(), request_context: { req_ip: 'not-an-ip' } },
      { ...aliceBody(), details: { blob: 'x'.repeat(MAX_CONTEXT_LENGTH) } },
      { ...aliceBody(), details: ['not', 'an', 'object'] },
    ]) {
      assert.throws(
        () => issuer.mint(body as EnvelopeBody),
        (error: { code?: string }) => error.code === 'ERR_ENVELOPE_CLAIMS_INVALID',
      );
    }
  });
});

describe('Transaction Token validation (draft-10 §10.2)', () => {
  it('refuses a token whose tctx was widened after signing (mode, allowed)', async () => {
    const { issuer, verifyOptions, claimsOf, resign } = setup();
    const claims = claimsOf(issuer.mint(aliceBody()).token);
    for (const tctx of [
      { ...claims.tctx, mode: 'god_mode' },
      { ...claims.tctx, allowed: 'https://evil.example' },
      { ...claims.tctx, extra: true },
      'service_identity',
    ]) {
      await refusedWith(
        verifyEnvelope(resign({ ...claims, tctx }), verifyOptions),
        'ERR_ENVELOPE_CLAIMS_INVALID',
      );
    }
  });

  it('refuses a token without tctx or req_wl (both required by draft-10)', async () => {
    const { issuer, verifyOptions, claimsOf, resign } = setup();
    const claims = claimsOf(issuer.mint(aliceBody()).token);
    const { tctx, req_wl, ...rest } = claims;
    await refusedWith(
      verifyEnvelope(resign({ ...rest, req_wl }), verifyOptions),
      'ERR_ENVELOPE_CLAIMS_INVALID',
    );
    await refusedWith(
      verifyEnvelope(resign({ ...rest, tctx }), verifyOptions),
      'ERR_ENVELOPE_CLAIMS_INVALID',
    );
  });

  it('refuses a token with the pre-draft-10 wire form (delegation as a top-level claim, no tctx)', async () => {
    const { issuer, verifyOptions, claimsOf, resign } = setup();
    const { tctx, ...claims } = claimsOf(issuer.mint(aliceBody()).token);
    await refusedWith(
      verifyEnvelope(resign({ ...claims, delegation: tctx }), verifyOptions),
      'ERR_ENVELOPE_CLAIMS_INVALID',
    );
  });

  it('refuses an rctx with unknown members or a malformed IP address', async () => {
    const { issuer, verifyOptions, claimsOf, resign } = setup();
    const claims = claimsOf(issuer.mint(withContext()).token);
    for (const rctx of [{ ...claims.rctx, admin: true }, { req_ip: '999.1.1.1' }, 'rctx']) {
      await refusedWith(
        verifyEnvelope(resign({ ...claims, rctx }), verifyOptions),
        'ERR_ENVELOPE_CLAIMS_INVALID',
      );
    }
  });

  it('refuses a token minted for another trust domain (aud)', async () => {
    const { issuer, verifyOptions } = setup();
    const { token } = issuer.mint(aliceBody());
    await refusedWith(
      verifyEnvelope(token, { ...verifyOptions, trustDomain: 'other.example' }),
      'ERR_ENVELOPE_TRUST_DOMAIN_INVALID',
    );
  });

  it('ignores top-level claims it does not understand (draft-10 §7.2)', async () => {
    const { issuer, verifyOptions, claimsOf, resign } = setup();
    const claims = claimsOf(issuer.mint(aliceBody()).token);
    const verified = await verifyEnvelope(
      resign({ ...claims, vendor_claim: { any: 'thing' } }),
      verifyOptions,
    );
    assert.equal(verified.actor.sub, 'user-alice');
  });
});
