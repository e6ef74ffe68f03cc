import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { EVENT_TYPES, eventsOfRevocations, mintSecurityEventToken } from '../../src/index.ts';
import { signingKey } from '../transmitter/fixtures.ts';

describe('mintSecurityEventToken', () => {
  const events = eventsOfRevocations([{ kind: 'subject', value: 'alice' }], {
    subjectIssuer: 'https://idp.example',
    at: 1_700_000_000,
  });

  it('signs one event as an SSF 1.0 SET: typ secevent+jwt, iss, aud, iat, jti, sub_id, events, txn', async () => {
    const key = await signingKey();
    const set = await mintSecurityEventToken({
      issuer: 'https://broker.example',
      audience: 'orders-mcp',
      events,
      key: key.options,
      txn: 'txn-1',
    });
    const { payload, protectedHeader } = await jwtVerify(set, key.jwks, {
      issuer: 'https://broker.example',
      audience: 'orders-mcp',
      typ: 'secevent+jwt',
    });
    assert.equal(protectedHeader.kid, 'ssf-key-1');
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload.iat, 'number');
    assert.equal(payload.txn, 'txn-1');
    assert.deepEqual(payload.sub_id, { format: 'iss_sub', iss: 'https://idp.example', sub: 'alice' });
    assert.deepEqual(payload.events, { [EVENT_TYPES.accountDisabled]: { event_timestamp: 1_700_000_000 } });
    assert.equal(payload.sub, undefined, 'no sub: a SET must not pass for an access token');
    assert.equal(payload.exp, undefined);
  });

  it('gives every SET its own random jti', async () => {
    const key = await signingKey();
    const mint = () =>
      mintSecurityEventToken({ issuer: 'https://b.example', audience: 'r', events, key: key.options });
    const [one, two] = await Promise.all([mint(), mint()]);
    assert.notEqual(
      JSON.parse(Buffer.from(one.split('.')[1]!, 'base64url').toString()).jti,
      JSON.parse(Buffer.from(two.split('.')[1]!, 'base64url').toString()).jti,
    );
    assert.equal(decodeProtectedHeader(one).typ, 'secevent+jwt');
  });

  it('refuses to put two events in one SET, or none (SSF 1.0: one event per SET)', async () => {
    const key = await signingKey();
    const two = eventsOfRevocations(
      [
        { kind: 'subject', value: 'alice' },
        { kind: 'client', value: 'agent' },
      ],
      { subjectIssuer: 'https://idp.example', at: 1 },
    );
    for (const bad of [two, []]) {
      await assert.rejects(
        mintSecurityEventToken({ issuer: 'https://b.example', audience: 'r', events: bad, key: key.options }),
        TypeError,
      );
    }
  });

  it('refuses alg none', async () => {
    const key = await signingKey();
    await assert.rejects(
      mintSecurityEventToken({
        issuer: 'https://b.example',
        audience: 'r',
        events,
        key: { ...key.options, alg: 'none' },
      }),
      TypeError,
    );
  });
});
