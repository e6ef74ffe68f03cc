import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type EnvelopeBody,
  EnvelopeError,
  EnvelopeIssuer,
  EnvelopeKeyRing,
  keyRingResolver,
  validateEnvelopeBody,
  verifyEnvelope,
} from '../src/index.ts';
import { aliceBody, ISSUER, TRUST_DOMAIN, testClock } from './fixtures.ts';

function setup() {
  const clock = testClock();
  const ring = EnvelopeKeyRing.generate({ algorithm: 'ES256', retentionSeconds: 3600 }, clock.now);
  const issuer = new EnvelopeIssuer({
    issuer: ISSUER,
    trustDomain: TRUST_DOMAIN,
    keys: ring,
    now: clock.now,
  });
  return {
    issuer,
    verifyOptions: { issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: keyRingResolver(ring), now: clock.now },
  };
}

const invalid = (error: unknown) =>
  error instanceof EnvelopeError && error.code === 'ERR_ENVELOPE_CLAIMS_INVALID';

describe('a body validated once, minted per call (validateEnvelopeBody + MintOptions.traceId)', () => {
  it('sanity: mints the same envelope as the unvalidated body, each under its own trace id', async () => {
    const { issuer, verifyOptions } = setup();
    const body = validateEnvelopeBody(aliceBody());
    const traceId = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
    const { envelope, token } = issuer.mint(body, { traceId });
    const plain = issuer.mint({ ...aliceBody(), session: { id: 'session-1', trace_id: traceId } }).envelope;
    const { id: _a, ...fromValidated } = envelope;
    const { id: _b, ...fromPlain } = plain;
    assert.deepEqual(fromValidated, fromPlain);
    assert.equal(envelope.session.trace_id, traceId);
    assert.equal(body.session.trace_id, aliceBody().session.trace_id, 'the validated body is not changed');
    assert.deepEqual(await verifyEnvelope(token, verifyOptions), envelope);
    assert.equal(
      issuer.mint(body, { traceId: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2' }).envelope.session.trace_id,
      'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2',
    );
  });

  it('refuses to validate a body the schema refuses (an invalid scope, an unknown field)', () => {
    assert.throws(
      () =>
        validateEnvelopeBody({ ...aliceBody(), authorization: { scopes: ['a b'], confidence: 'medium' } }),
      invalid,
    );
    assert.throws(() => validateEnvelopeBody({ ...aliceBody(), extra: 1 } as EnvelopeBody), invalid);
  });

  it('cannot be changed after validation to smuggle another identity into the envelope', () => {
    const body = validateEnvelopeBody(aliceBody());
    assert.throws(() => {
      (body.actor as { sub: string }).sub = 'user-bob';
    }, TypeError);
    assert.throws(() => {
      (body.authorization.scopes as string[]).push('admin');
    }, TypeError);
  });

  it('validates a look-alike body that validateEnvelopeBody did not return (a copy is checked in full)', () => {
    const { issuer } = setup();
    const body = validateEnvelopeBody(aliceBody());
    const copy = structuredClone(body) as EnvelopeBody;
    (copy.actor as { sub: string }).sub = '';
    assert.throws(() => issuer.mint(copy), invalid);
    assert.throws(() => issuer.mint({ ...body, actor: { type: 'user', sub: '', tenant: null } }), invalid);
  });

  it('refuses to mint a validated body without a trace id (a call never inherits another call’s trace)', () => {
    const { issuer } = setup();
    assert.throws(() => issuer.mint(validateEnvelopeBody(aliceBody())), TypeError);
  });

  it('refuses a trace id that is not a W3C trace-id, for validated and plain bodies alike', () => {
    const { issuer } = setup();
    const body = validateEnvelopeBody(aliceBody());
    for (const traceId of [
      '0'.repeat(32),
      'ABCDEFABCDEFABCDEFABCDEFABCDEFAB',
      'abc',
      `${'a'.repeat(32)}\n`,
    ]) {
      assert.throws(() => issuer.mint(body, { traceId }), invalid, traceId);
      assert.throws(() => issuer.mint(aliceBody(), { traceId }), invalid, traceId);
    }
  });
});
