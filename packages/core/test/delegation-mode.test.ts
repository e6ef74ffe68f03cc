import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DELEGATION_MODES, isDelegationMode } from '../src/index.ts';

test('the delegation modes are exactly the three the product brief names', () => {
  assert.deepEqual([...DELEGATION_MODES], ['service_identity', 'on_behalf_of', 'restricted_user']);
  for (const mode of DELEGATION_MODES) assert.equal(isDelegationMode(mode), true);
});

test('a Transaction Token kind or an unknown value is not a delegation mode', () => {
  for (const value of ['txn_token', 'ON_BEHALF_OF', '', null, undefined, 1]) {
    assert.equal(isDelegationMode(value), false, String(value));
  }
});
