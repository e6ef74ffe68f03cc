import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import {
  type AnyBatonError,
  BatonError,
  bearerChallengeError,
  isBatonError,
  isRefusalCode,
  ProtocolRefusal,
  REFUSAL_ERRORS,
  type RefusalCode,
  refusalAnswer,
} from '../src/index.ts';

const DETAIL = 'rule forbid-billing-7 matched client svc-42 for https://billing.internal';

/** What `switch (error.code)` on an `AnyBatonError` narrows to: the compiler checks each arm. */
function describeFailure(error: AnyBatonError): string {
  switch (error.code) {
    case 'ERR_CONNECTOR_UNAVAILABLE':
      return `retry ${error.code}`;
    case 'ERR_VAULT_TAMPERED':
      return 'alarm';
    case 'invalid_token':
    case 'insufficient_scope':
      // Narrowed to a ProtocolRefusal: `status` and `reason` exist only there.
      return `refused ${error.status} ${error.reason}`;
    default:
      return error instanceof ProtocolRefusal ? `refused ${error.status}` : error.code;
  }
}

test('switch (error.code) narrows an AnyBatonError to the refusal or the failure it names', () => {
  const refusal: unknown = new ProtocolRefusal({
    code: 'invalid_token',
    reason: 'token_expired',
    description: 'the token has expired',
  });
  const failure: unknown = new BatonError('ERR_CONNECTOR_UNAVAILABLE', 'the platform could not be reached');
  assert.ok(isBatonError(refusal) && isBatonError(failure));
  assert.equal(describeFailure(refusal), 'refused 401 token_expired');
  assert.equal(describeFailure(failure), 'retry ERR_CONNECTOR_UNAVAILABLE');
  assert.equal(describeFailure(new BatonError('ERR_ENVELOPE_EXPIRED', 'expired')), 'ERR_ENVELOPE_EXPIRED');
  // @ts-expect-error a code no package declares is not a BatonError code
  assert.ok(new BatonError('ERR_NOT_A_BATON_CODE', 'x'));
});

test('a look-alike object with a Baton code is not a BatonError (no matching by string)', () => {
  const lookalike = Object.assign(new Error('the platform could not be reached'), {
    code: 'ERR_CONNECTOR_UNAVAILABLE',
  });
  assert.equal(isBatonError(lookalike), false);
  assert.equal(isBatonError({ code: 'invalid_token', status: 401 }), false);
  assert.equal(isBatonError(undefined), false);
});

test('a subclass is still instanceof its own class, ProtocolRefusal, BatonError and Error', () => {
  class ExampleRefusal extends ProtocolRefusal<'example'> {
    override readonly name = 'ExampleRefusal';
  }
  const refusal = new ExampleRefusal({ code: 'invalid_target', reason: 'example', description: 'no' });
  for (const kind of [ExampleRefusal, ProtocolRefusal, BatonError, Error]) assert.ok(refusal instanceof kind);
  assert.equal(refusal.name, 'ExampleRefusal');
  assert.equal(refusal.message, 'no');
  assert.equal(refusal.description, 'no');
});

test('the private detail never serialises: not in JSON, toJSON, util.inspect, the stack, the answer or the challenge', () => {
  const refusals = [
    new ProtocolRefusal({
      code: 'invalid_target',
      reason: 'policy_denied',
      description: 'the declared policy does not allow this token',
      detail: DETAIL,
    }),
    new ProtocolRefusal({
      code: 'invalid_token',
      reason: 'token_expired',
      description: 'the token has expired',
      detail: DETAIL,
      cause: new Error('jose said no'),
    }),
  ];
  for (const refusal of refusals) {
    assert.equal(refusal.detail, DETAIL, 'the component can still log it');
    const seen = [
      JSON.stringify(refusal),
      JSON.stringify(refusal.toJSON()),
      JSON.stringify({ err: refusal }),
      inspect(refusal),
      inspect(refusal, { depth: Number.POSITIVE_INFINITY }),
      String(refusal),
      refusal.message,
      refusal.stack ?? '',
      JSON.stringify(refusalAnswer(refusal)),
      JSON.stringify(bearerChallengeError(refusal) ?? null),
      JSON.stringify(Object.keys(refusal)),
    ];
    for (const text of seen) assert.ok(!text.includes('forbid-billing-7'), text);
  }
  const failure = new BatonError('ERR_VAULT_STORE_FAILED', 'the store failed', { detail: DETAIL });
  for (const text of [JSON.stringify(failure), inspect(failure), String(failure)]) {
    assert.ok(!text.includes('forbid-billing-7'), text);
  }
});

test('toJSON carries the public fields only: name, code, description and status, never the private reason', () => {
  const refusal = new ProtocolRefusal({
    code: 'insufficient_scope',
    reason: 'scope_insufficient',
    description: 'this operation requires scope: billing:write',
    detail: DETAIL,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(refusal)), {
    name: 'ProtocolRefusal',
    code: 'insufficient_scope',
    description: 'this operation requires scope: billing:write',
    status: 403,
    error: 'insufficient_scope',
  });
});

test('a log shipper serialising a refusal never puts its private reason on the wire', () => {
  const refusal = new ProtocolRefusal({
    code: 'invalid_target',
    reason: 'policy_denied',
    description: 'the declared policy does not allow this token',
    detail: DETAIL,
  });
  assert.equal(refusal.reason, 'policy_denied', 'the component can still audit it');
  for (const text of [
    JSON.stringify(refusal),
    JSON.stringify(refusal.toJSON()),
    JSON.stringify({ err: refusal }),
  ]) {
    assert.ok(!text.includes('policy_denied'), text);
    assert.ok(!text.includes('"reason"'), text);
  }
});

test('the mapping table is total: every refusal code maps to its status, RFC error and description', () => {
  const codes = Object.keys(REFUSAL_ERRORS) as RefusalCode[];
  assert.ok(codes.length >= 15);
  for (const code of codes) {
    const entry = REFUSAL_ERRORS[code];
    assert.ok(isRefusalCode(code), code);
    assert.ok(entry.status >= 400 && entry.status <= 599, code);
    assert.match(entry.spec, /^(RFC \d+|OpenID Connect)/, code);
    const refusal = new ProtocolRefusal({ code, reason: 'because', description: `refused: ${code}` });
    const answer = refusalAnswer(refusal);
    assert.equal(answer.status, entry.status, code);
    if (code === 'credentials_missing') {
      // RFC 6750 §3.1: no error code when the request carried no credentials.
      assert.equal(entry.error, undefined);
      assert.deepEqual(answer.body, {});
      assert.equal(bearerChallengeError(refusal), undefined);
      continue;
    }
    assert.equal(entry.error, code, 'the wire error is the code itself');
    assert.deepEqual(answer.body, { error: code, error_description: `refused: ${code}` });
    const challenge = bearerChallengeError(refusal);
    assert.equal(challenge !== undefined, entry.bearer, code);
  }
});

test('the statuses are the RFCs’: 400 request errors, 401 invalid_token/invalid_client, 403 insufficient_scope, 503 unavailable', () => {
  assert.equal(REFUSAL_ERRORS.invalid_request.status, 400);
  assert.equal(REFUSAL_ERRORS.invalid_target.status, 400);
  assert.equal(REFUSAL_ERRORS.invalid_scope.status, 400);
  assert.equal(REFUSAL_ERRORS.invalid_grant.status, 400);
  assert.equal(REFUSAL_ERRORS.invalid_client.status, 401);
  assert.equal(REFUSAL_ERRORS.invalid_token.status, 401);
  assert.equal(REFUSAL_ERRORS.insufficient_scope.status, 403);
  assert.equal(REFUSAL_ERRORS.temporarily_unavailable.status, 503);
  // Only RFC 6750 §3.1's three codes go into a Bearer challenge.
  const bearer = (Object.keys(REFUSAL_ERRORS) as RefusalCode[]).filter(
    (code) => REFUSAL_ERRORS[code].bearer && REFUSAL_ERRORS[code].error !== undefined,
  );
  assert.deepEqual(bearer.sort(), ['insufficient_scope', 'invalid_request', 'invalid_token']);
});

test('a refusal may answer with another status than its default (invalid_request as a 503), and says so', () => {
  const refusal = new ProtocolRefusal({
    code: 'invalid_request',
    status: 503,
    reason: 'platform_unavailable',
    description: 'the platform could not be reached; try again later',
  });
  assert.deepEqual(refusalAnswer(refusal), {
    status: 503,
    body: {
      error: 'invalid_request',
      error_description: 'the platform could not be reached; try again later',
    },
  });
});

test('caller misuse is a TypeError at construction: an unknown code, a 2xx status, no reason', () => {
  assert.throws(
    () => new ProtocolRefusal({ code: 'not_an_error' as RefusalCode, reason: 'r', description: 'd' }),
    TypeError,
  );
  assert.throws(
    () => new ProtocolRefusal({ code: 'toString' as RefusalCode, reason: 'r', description: 'd' }),
    TypeError,
  );
  for (const status of [200, 302, 600, 400.5]) {
    assert.throws(
      () => new ProtocolRefusal({ code: 'invalid_request', status, reason: 'r', description: 'd' }),
      TypeError,
      String(status),
    );
  }
  assert.throws(
    () => new ProtocolRefusal({ code: 'invalid_request', reason: '', description: 'd' }),
    TypeError,
  );
  assert.equal(isRefusalCode('toString'), false);
  assert.ok(Object.isFrozen(REFUSAL_ERRORS) && Object.isFrozen(REFUSAL_ERRORS.invalid_token));
  assert.equal(isRefusalCode('ERR_VAULT_TAMPERED'), false);
});
