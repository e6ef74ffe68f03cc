import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { isBatonError, ProtocolRefusal, refusalAnswer } from '@baton/core';
import { refuse } from '../src/grants/refusal.ts';

const DETAIL = 'no rule permits client "orders-mcp" to exchange for audience https://billing.internal';

test('a broker refusal hands oidc-provider its public answer only, never the private detail', () => {
  for (const refusal of [
    refuse.target('policy_denied', 'the declared policy does not allow this token', DETAIL),
    refuse.request(
      'depth_exceeded',
      'the delegation chain is longer than the declared policy allows',
      DETAIL,
    ),
    refuse.scope(
      'scope_not_permitted',
      'the declared policy permits none of the requested scopes',
      'a b',
      DETAIL,
    ),
    refuse.unavailable('platform_unavailable', 'the platform could not be reached; try again later', DETAIL),
  ]) {
    assert.ok(refusal instanceof ProtocolRefusal && isBatonError(refusal));
    assert.equal(refusal.detail, DETAIL, 'kept for the broker log');
    const rendered = refusal.oauthError as Error & Record<string, unknown>;
    const { status, body } = refusalAnswer(refusal);
    assert.equal(rendered.statusCode, status);
    assert.equal(rendered.error, body.error);
    assert.equal(rendered.error_description, body.error_description);
    assert.equal(rendered.expose, true, 'oidc-provider sends the answer, also for a 503');
    assert.equal(rendered.error_detail, undefined);
    for (const text of [
      inspect(rendered),
      inspect(refusal),
      JSON.stringify(refusal),
      JSON.stringify(rendered),
    ]) {
      assert.ok(!text.includes('orders-mcp'), text);
    }
  }
});

test('the broker answers with the RFC error and status of each refusal kind', () => {
  assert.deepEqual(refusalAnswer(refuse.target('policy_denied', 'd')), {
    status: 400,
    body: { error: 'invalid_target', error_description: 'd' },
  });
  assert.deepEqual(refusalAnswer(refuse.request('policy_denied', 'd')).status, 400);
  assert.deepEqual(refusalAnswer(refuse.unavailable('policy_denied', 'd')), {
    status: 503,
    body: { error: 'invalid_request', error_description: 'd' },
  });
  const scope = refuse.scope('policy_denied', 'd', 'billing:write');
  assert.equal(refusalAnswer(scope).body.error, 'invalid_scope');
  assert.equal((scope.oauthError as Error & { scope?: string }).scope, 'billing:write');
});
