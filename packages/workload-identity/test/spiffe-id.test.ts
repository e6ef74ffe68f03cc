import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isWorkloadSpiffeId,
  parseSpiffeId,
  SpiffeIdError,
  type SpiffeIdInvalidReason,
} from '../src/index.ts';

function refused(value: string, reason: SpiffeIdInvalidReason): void {
  assert.throws(
    () => parseSpiffeId(value),
    (error: unknown) =>
      error instanceof SpiffeIdError && error.code === 'ERR_SPIFFE_ID_INVALID' && error.reason === reason,
    `${value} → ${reason}`,
  );
}

describe('SPIFFE ID syntax (SPIFFE-ID §2)', () => {
  it('parses a workload ID into trust domain and path', () => {
    assert.deepEqual(parseSpiffeId('spiffe://baton.test/ns/prod/sa/orders-api'), {
      id: 'spiffe://baton.test/ns/prod/sa/orders-api',
      trustDomain: 'baton.test',
      path: '/ns/prod/sa/orders-api',
    });
    assert.deepEqual(parseSpiffeId('spiffe://baton_test-1.example/A.b_C-9'), {
      id: 'spiffe://baton_test-1.example/A.b_C-9',
      trustDomain: 'baton_test-1.example',
      path: '/A.b_C-9',
    });
  });

  it("parses a trust domain's own ID (no path), which is no workload ID", () => {
    assert.equal(parseSpiffeId('spiffe://baton.test').path, '');
    assert.equal(isWorkloadSpiffeId('spiffe://baton.test'), false);
    assert.equal(isWorkloadSpiffeId('spiffe://baton.test/orders'), true);
    assert.equal(isWorkloadSpiffeId('https://baton.test/orders'), false);
  });

  it('refuses another scheme, or the scheme in upper case', () => {
    refused('https://baton.test/orders', 'scheme_invalid');
    refused('SPIFFE://baton.test/orders', 'scheme_invalid');
    refused('spiffe:/baton.test/orders', 'scheme_invalid');
    refused('', 'scheme_invalid');
  });

  it('refuses an ID without a trust domain', () => {
    refused('spiffe://', 'trust_domain_missing');
    refused('spiffe:///orders', 'trust_domain_missing');
  });

  it('refuses userinfo, a port, upper case or other characters in the trust domain', () => {
    refused('spiffe://user@baton.test/orders', 'trust_domain_invalid');
    refused('spiffe://baton.test:8443/orders', 'trust_domain_invalid');
    refused('spiffe://Baton.test/orders', 'trust_domain_invalid');
    refused('spiffe://baton%2etest/orders', 'trust_domain_invalid');
    refused('spiffe://baton.test?x=1', 'trust_domain_invalid');
    refused('spiffe://baton.test#frag', 'trust_domain_invalid');
  });

  it('refuses a trust domain over 255 bytes', () => {
    refused(`spiffe://${'a'.repeat(256)}/orders`, 'trust_domain_too_long');
  });

  it('refuses a query or fragment, percent-encoding or other characters in the path', () => {
    refused('spiffe://baton.test/orders?admin=1', 'path_invalid');
    refused('spiffe://baton.test/orders#admin', 'path_invalid');
    refused('spiffe://baton.test/or%64ers', 'path_invalid');
    refused('spiffe://baton.test/orders,admin', 'path_invalid');
    refused('spiffe://baton.test/ordérs', 'path_invalid');
  });

  it('refuses empty segments and a trailing slash', () => {
    refused('spiffe://baton.test/', 'path_segment_empty');
    refused('spiffe://baton.test/orders/', 'path_segment_empty');
    refused('spiffe://baton.test//orders', 'path_segment_empty');
  });

  it('refuses dot segments (a path that climbs to another workload)', () => {
    refused('spiffe://baton.test/orders/..', 'path_segment_dot');
    refused('spiffe://baton.test/./orders', 'path_segment_dot');
  });

  it('refuses an ID over 2048 bytes', () => {
    refused(`spiffe://baton.test/${'a'.repeat(2048)}`, 'too_long');
  });

  it('never quotes the refused input in its message', () => {
    try {
      parseSpiffeId('spiffe://baton.test/secret-looking?value');
      assert.fail('parsed');
    } catch (error) {
      assert.ok(error instanceof SpiffeIdError);
      assert.doesNotMatch(error.message, /secret-looking/);
    }
  });
});
