import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { signCompact } from '../src/compact-jws.ts';
import {
  type EnvelopeErrorCode,
  EnvelopeIssuer,
  EnvelopeKeyRing,
  keyRingResolver,
  TXN_TOKEN_TYP,
  verifyEnvelope,
} from '../src/index.ts';
import { aliceBody, ISSUER, TRUST_DOMAIN, testClock } from './fixtures.ts';

function setup(options: { ttlSeconds?: number; algorithm?: 'ES256' | 'EdDSA' | 'ES384' } = {}) {
  const clock = testClock();
  const ring = EnvelopeKeyRing.generate(
    { algorithm: options.algorithm ?? 'ES256', retentionSeconds: 3600 },
    clock.now,
  );
  const issuer = new EnvelopeIssuer({
    issuer: ISSUER,
    trustDomain: TRUST_DOMAIN,
    keys: ring,
    ttlSeconds: options.ttlSeconds ?? 300,
    now: clock.now,
  });
  const verifyOptions = {
    issuer: ISSUER,
    trustDomain: TRUST_DOMAIN,
    keys: keyRingResolver(ring),
    now: clock.now,
  };
  return { clock, ring, issuer, verifyOptions };
}

async function refusedWith(promise: Promise<unknown>, code: EnvelopeErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, `expected ${code}, got ${String(error)}`);
    return true;
  });
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('envelope mint and verify', () => {
  for (const algorithm of ['ES256', 'EdDSA', 'ES384'] as const) {
    it(`round-trips a ${algorithm} envelope and keeps user and agent apart`, async () => {
      const { issuer, verifyOptions } = setup({ algorithm });
      const { envelope, token } = issuer.mint(aliceBody());
      const verified = await verifyEnvelope(token, verifyOptions);
      assert.deepEqual(verified, envelope);
      assert.equal(verified.actor.sub, 'user-alice');
      assert.equal(verified.agent.client_id, 'agent-1');
      assert.equal(verified.expires_at - verified.issued_at, 300);
      const [header] = token.split('.');
      assert.deepEqual(Object.keys(JSON.parse(Buffer.from(header!, 'base64url').toString())).sort(), [
        'alg',
        'kid',
        'typ',
      ]);
    });
  }

  it('writes the Txn-Token claims that mirror the named sections', () => {
    const { issuer } = setup();
    const { envelope, token } = issuer.mint(aliceBody());
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(header.typ, 'txntoken+jwt');
    assert.equal(claims.aud, TRUST_DOMAIN);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.sub, 'user-alice');
    assert.equal(claims.txn, envelope.session.trace_id);
    assert.equal(claims.scope, 'orders:read orders:write');
    assert.equal(claims.jti, envelope.id);
    assert.equal(claims.req_wl, ISSUER);
    assert.deepEqual(claims.agent, envelope.agent);
  });

  it('gives every envelope a unique id', () => {
    const { issuer } = setup();
    const ids = new Set(Array.from({ length: 200 }, () => issuer.mint(aliceBody()).envelope.id));
    assert.equal(ids.size, 200);
  });

  it('freezes the envelope deeply so tool code cannot change whom it acts for', async () => {
    const { issuer, verifyOptions } = setup();
    const { envelope, token } = issuer.mint(aliceBody());
    const verified = await verifyEnvelope(token, verifyOptions);
    for (const target of [envelope, verified]) {
      assert.throws(() => {
        (target.actor as { sub: string }).sub = 'user-bob';
      }, TypeError);
      assert.throws(() => {
        (target.authorization.scopes as string[]).push('admin');
      }, TypeError);
      assert.equal(target.actor.sub, 'user-alice');
    }
  });

  it('refuses to mint from an invalid body, naming the field and not echoing its value', () => {
    const { issuer } = setup();
    const body = aliceBody();
    (body.session as { trace_id: string }).trace_id = 'not-a-trace-<script>';
    assert.throws(
      () => issuer.mint(body),
      (error: Error & { code?: string }) =>
        error.code === 'ERR_ENVELOPE_CLAIMS_INVALID' &&
        error.message.includes('session.trace_id') &&
        !error.message.includes('<script>'),
    );
    assert.throws(
      () => issuer.mint({ ...aliceBody(), extra: 'x' } as never),
      /ERR_ENVELOPE_CLAIMS_INVALID|invalid/,
    );
  });

  it('requires issuer, trust domain, keys, and a bounded lifetime at construction', () => {
    const ring = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
    assert.throws(() => new EnvelopeIssuer({ issuer: '', trustDomain: 'x', keys: ring }), TypeError);
    assert.throws(() => new EnvelopeIssuer({ issuer: 'x', trustDomain: '', keys: ring }), TypeError);
    assert.throws(
      () => new EnvelopeIssuer({ issuer: 'x', trustDomain: 'x', keys: undefined as never }),
      TypeError,
    );
    assert.throws(
      () => new EnvelopeIssuer({ issuer: 'x', trustDomain: 'x', keys: ring, ttlSeconds: 7200 }),
      TypeError,
    );
    // Keys must outlive the envelopes they sign, or a rotation would break envelopes in flight.
    assert.throws(
      () => new EnvelopeIssuer({ issuer: 'x', trustDomain: 'x', keys: ring, ttlSeconds: 900 }),
      TypeError,
    );
    assert.throws(
      () => EnvelopeKeyRing.generate({ algorithm: 'HS256' as never, retentionSeconds: 60 }),
      TypeError,
    );
  });
});

describe('envelope verification refuses attacks', () => {
  it('refuses an alg "none" envelope', async () => {
    const { issuer, verifyOptions } = setup();
    const [, payload] = issuer.mint(aliceBody()).token.split('.');
    const forged = `${b64({ alg: 'none', typ: TXN_TOKEN_TYP, kid: 'x' })}.${payload}.`;
    await refusedWith(verifyEnvelope(forged, verifyOptions), 'ERR_ENVELOPE_ALG_NOT_ALLOWED');
  });

  it('refuses an HS256 envelope keyed with the published public key (algorithm confusion)', async () => {
    const { issuer, ring, verifyOptions } = setup();
    const { createHmac } = await import('node:crypto');
    const [, payload] = issuer.mint(aliceBody()).token.split('.');
    const header = b64({ alg: 'HS256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid });
    const secret = JSON.stringify(ring.jwks().keys[0]);
    const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    await refusedWith(
      verifyEnvelope(`${header}.${payload}.${signature}`, verifyOptions),
      'ERR_ENVELOPE_ALG_NOT_ALLOWED',
    );
  });

  it('refuses an algorithm outside the verifier allow-list', async () => {
    const { issuer, verifyOptions } = setup({ algorithm: 'ES256' });
    const { token } = issuer.mint(aliceBody());
    await refusedWith(
      verifyEnvelope(token, { ...verifyOptions, algorithms: ['EdDSA'] }),
      'ERR_ENVELOPE_ALG_NOT_ALLOWED',
    );
  });

  it('refuses a known kid presented under another algorithm', async () => {
    const { issuer, verifyOptions } = setup({ algorithm: 'ES256' });
    const [header, payload, signature] = issuer.mint(aliceBody()).token.split('.');
    const parsed = JSON.parse(Buffer.from(header!, 'base64url').toString());
    const swapped = `${b64({ ...parsed, alg: 'EdDSA' })}.${payload}.${signature}`;
    await refusedWith(verifyEnvelope(swapped, verifyOptions), 'ERR_ENVELOPE_KEY_UNKNOWN');
  });

  for (const typ of ['JWT', 'at+jwt', 'txn_token', undefined]) {
    it(`refuses an envelope typed ${String(typ)} (token type confusion)`, async () => {
      const { ring, verifyOptions, issuer } = setup();
      const claims = JSON.parse(
        Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
      );
      const header = { alg: 'ES256', kid: ring.signingKey.kid, ...(typ ? { typ } : {}) };
      const token = signCompact(header as never, claims, ring.signingKey.privateKey);
      await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_TYP_INVALID');
    });
  }

  it('refuses an envelope signed by a key the issuer never published (unknown kid)', async () => {
    const { verifyOptions, issuer } = setup();
    const stranger = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
    const claims = JSON.parse(
      Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
    );
    const token = signCompact(
      { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: stranger.signingKey.kid },
      claims,
      stranger.signingKey.privateKey,
    );
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_KEY_UNKNOWN');
  });

  it('refuses an envelope whose kid names a trusted key but whose signature is from another key', async () => {
    const { verifyOptions, issuer, ring } = setup();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const claims = JSON.parse(
      Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
    );
    const token = signCompact(
      { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid },
      claims,
      privateKey,
    );
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_SIGNATURE_INVALID');
  });

  it('refuses an envelope whose payload was altered after signing (user swapped)', async () => {
    const { issuer, verifyOptions } = setup();
    const [header, payload, signature] = issuer.mint(aliceBody()).token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.sub = 'user-bob';
    claims.actor.sub = 'user-bob';
    await refusedWith(
      verifyEnvelope(`${header}.${b64(claims)}.${signature}`, verifyOptions),
      'ERR_ENVELOPE_SIGNATURE_INVALID',
    );
  });

  it('refuses a truncated or padded signature', async () => {
    const { issuer, verifyOptions } = setup();
    const { token } = issuer.mint(aliceBody());
    await refusedWith(verifyEnvelope(token.slice(0, -4), verifyOptions), 'ERR_ENVELOPE_SIGNATURE_INVALID');
    await refusedWith(verifyEnvelope(`${token}AAAA`, verifyOptions), 'ERR_ENVELOPE_SIGNATURE_INVALID');
  });

  for (const [label, value] of [
    ['an empty string', ''],
    ['two segments', 'a.b'],
    ['four segments', 'a.b.c.d'],
    ['a non-JSON header', 'bm90IGpzb24.e30.AA'],
    ['a non-base64url header', 'a+b/.e30.AA'],
    ['an array header', `${b64([1])}.e30.AA`],
  ] as const) {
    it(`refuses ${label} as malformed`, async () => {
      const { verifyOptions } = setup();
      await refusedWith(verifyEnvelope(value, verifyOptions), 'ERR_ENVELOPE_MALFORMED');
    });
  }

  it('refuses a header with crit extensions it does not understand', async () => {
    const { ring, verifyOptions, issuer } = setup();
    const claims = JSON.parse(
      Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
    );
    const token = signCompact(
      { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid, crit: ['b64'] } as never,
      claims,
      ring.signingKey.privateKey,
    );
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_MALFORMED');
  });

  it('refuses an envelope from another issuer', async () => {
    const { issuer, verifyOptions } = setup();
    const { token } = issuer.mint(aliceBody());
    await refusedWith(
      verifyEnvelope(token, { ...verifyOptions, issuer: 'http://127.0.0.1:4999/mcp' }),
      'ERR_ENVELOPE_ISSUER_INVALID',
    );
  });

  it('refuses an envelope minted for another trust domain', async () => {
    const { issuer, verifyOptions } = setup();
    const { token } = issuer.mint(aliceBody());
    await refusedWith(
      verifyEnvelope(token, { ...verifyOptions, trustDomain: 'other.domain' }),
      'ERR_ENVELOPE_TRUST_DOMAIN_INVALID',
    );
  });

  it('refuses an expired envelope, allowing only the configured skew', async () => {
    const { issuer, verifyOptions, clock } = setup();
    const { token } = issuer.mint(aliceBody());
    clock.advance(300 + 29);
    await verifyEnvelope(token, verifyOptions);
    clock.advance(1);
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_EXPIRED');
  });

  it('refuses an envelope issued in the future beyond the skew', async () => {
    const { issuer, verifyOptions, clock } = setup();
    const { token } = issuer.mint(aliceBody());
    clock.advance(-31);
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_NOT_YET_VALID');
  });

  it('refuses an envelope whose nbf is in the future', async () => {
    const { ring, verifyOptions, issuer, clock } = setup();
    const claims = JSON.parse(
      Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
    );
    const token = signCompact(
      { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid },
      { ...claims, nbf: clock.now() + 120 },
      ring.signingKey.privateKey,
    );
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_NOT_YET_VALID');
  });

  it('refuses an envelope that lives longer than the verifier allows', async () => {
    const { issuer, verifyOptions } = setup({ ttlSeconds: 3600 });
    const { token } = issuer.mint(aliceBody());
    await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_LIFETIME_TOO_LONG');
  });

  it('refuses an envelope whose sub disagrees with its actor (split identity)', async () => {
    const { ring, verifyOptions, issuer } = setup();
    const claims = JSON.parse(
      Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
    );
    for (const tamper of [{ sub: 'user-bob' }, { scope: 'admin' }, { txn: 'f'.repeat(32) }]) {
      const token = signCompact(
        { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid },
        { ...claims, ...tamper },
        ring.signingKey.privateKey,
      );
      await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_CLAIMS_INVALID');
    }
  });

  it('refuses sections with unknown members or wrong types', async () => {
    const { ring, verifyOptions, issuer } = setup();
    const claims = JSON.parse(
      Buffer.from(issuer.mint(aliceBody()).token.split('.')[1]!, 'base64url').toString(),
    );
    for (const tamper of [
      { actor: { ...claims.actor, impersonate: 'user-bob' } },
      { tctx: { ...claims.tctx, mode: 'god_mode' } },
      { agent: undefined },
    ]) {
      const token = signCompact(
        { alg: 'ES256', typ: TXN_TOKEN_TYP, kid: ring.signingKey.kid },
        { ...claims, ...tamper },
        ring.signingKey.privateKey,
      );
      await refusedWith(verifyEnvelope(token, verifyOptions), 'ERR_ENVELOPE_CLAIMS_INVALID');
    }
  });

  it('requires issuer, trust domain and keys at every call', async () => {
    const { issuer, verifyOptions } = setup();
    const { token } = issuer.mint(aliceBody());
    await assert.rejects(verifyEnvelope(token, { ...verifyOptions, issuer: '' }), TypeError);
    await assert.rejects(verifyEnvelope(token, { ...verifyOptions, issuer: [] }), TypeError);
    await assert.rejects(verifyEnvelope(token, { ...verifyOptions, trustDomain: '' }), TypeError);
    await assert.rejects(verifyEnvelope(token, { ...verifyOptions, keys: undefined as never }), TypeError);
  });
});

describe('lazy signing', () => {
  it('signs on first read of token, once, with the key that was active at mint time', async () => {
    const { issuer, ring, verifyOptions } = setup();
    const minted = issuer.mint(aliceBody());
    const kidAtMint = ring.signingKey.kid;
    ring.rotate();
    const first = minted.token;
    assert.equal(minted.token, first, 'the same JWS every time');
    const header = JSON.parse(Buffer.from(first.split('.')[0]!, 'base64url').toString());
    assert.equal(header.kid, kidAtMint);
    assert.deepEqual(await verifyEnvelope(first, verifyOptions), minted.envelope);
    assert.throws(() => {
      (minted as { token: string }).token = 'forged';
    }, TypeError);
  });
});
