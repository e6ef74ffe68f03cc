import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  AUDIT_REASONS,
  auditEventOf,
  brokerRefusalReason,
  httpStatusReason,
  isAuditReason,
} from '../src/index.ts';

const identity = {
  actor: { type: 'user', sub: 'alice', tenant: 'acme' },
  agent: 'agent-1',
  scopes: ['orders:read'],
  delegation: { mode: 'on_behalf_of', services: ['orders-mcp'], chain: ['orders-mcp', 'agent-1'] },
} as const;

describe('auditEventOf', () => {
  test('records what data loss prevention found as detectors and counts, and nothing when it found nothing', () => {
    const fields = {
      action: 'tool.invoke',
      component: 'https://orders.example/mcp',
      target: { type: 'tool', name: 'export' },
      outcome: 'denied',
      reason: 'dlp_blocked',
      started: performance.now(),
      trace: { traceId: 'a'.repeat(32) },
    } as const;
    const event = auditEventOf(identity, {
      ...fields,
      dlp: { action: 'block', findings: { 'secret.github': 1, card: 2 } },
    });
    assert.deepEqual(event.dlp, { action: 'block', findings: { 'secret.github': 1, card: 2 } });
    assert.equal('dlp' in auditEventOf(identity, fields), false);
  });

  test('builds the event from the identity: initiator and agent apart, chain, hop, mode, scopes', () => {
    const started = performance.now();
    const event = auditEventOf(identity, {
      action: 'tool.invoke',
      component: 'https://orders.example/mcp',
      target: { type: 'tool', name: 'list_orders' },
      outcome: 'denied',
      reason: 'scope_insufficient',
      started,
      envelopeId: 'env-1',
      trace: {
        traceId: 'a'.repeat(32),
        spanId: 'b'.repeat(16),
        parentSpanId: 'c'.repeat(16),
        link: { trace_id: 'd'.repeat(32) },
      },
    });
    const { id, time, duration_ms, ...rest } = event;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.ok(Date.parse(time) > 0);
    assert.ok(duration_ms >= 0);
    assert.deepEqual(rest, {
      action: 'tool.invoke',
      component: 'https://orders.example/mcp',
      trace_id: 'a'.repeat(32),
      initiator: { sub: 'alice', tenant: 'acme' },
      agent: { id: 'agent-1', client_id: 'agent-1' },
      target: { type: 'tool', name: 'list_orders' },
      delegation_mode: 'on_behalf_of',
      scopes: ['orders:read'],
      outcome: 'denied',
      reason: 'scope_insufficient',
      envelope_id: 'env-1',
      chain: ['orders-mcp', 'agent-1'],
      hop: 2,
      span_id: 'b'.repeat(16),
      parent_span_id: 'c'.repeat(16),
      linked_trace: { trace_id: 'd'.repeat(32) },
    });
  });

  test("a component's own mode, scopes and chain replace the identity's, and no reason is written for ok", () => {
    const event = auditEventOf(identity, {
      action: 'api.call',
      component: 'orders-mcp',
      target: { type: 'api', name: 'billing' },
      outcome: 'ok',
      reason: undefined,
      started: performance.now(),
      mode: 'service_identity',
      scopes: ['billing:read'],
      scopesRequested: ['billing:read', 'billing:write'],
      chain: ['billing-mcp', 'orders-mcp', 'agent-1'],
      trace: { traceId: 'a'.repeat(32) },
    });
    assert.equal(event.delegation_mode, 'service_identity');
    assert.deepEqual(event.scopes, ['billing:read']);
    assert.deepEqual(event.scopes_requested, ['billing:read', 'billing:write']);
    assert.equal(event.hop, 3);
    assert.equal('reason' in event, false);
    assert.equal('span_id' in event, false);
  });
});

describe('reason codes are a closed set', () => {
  test("a broker's error text cannot become a reason code", () => {
    assert.equal(brokerRefusalReason('invalid_scope'), 'broker_invalid_scope');
    assert.equal(brokerRefusalReason('invalid_target'), 'broker_invalid_target');
    assert.equal(brokerRefusalReason('</td><script>alert(1)</script>'), 'broker_refused');
    assert.equal(brokerRefusalReason('server_error'), 'broker_refused');
  });

  test('an HTTP status is recorded by itself when standard, by its class otherwise', () => {
    assert.equal(httpStatusReason(302), 'http_302');
    assert.equal(httpStatusReason(403), 'http_403');
    assert.equal(httpStatusReason(503), 'http_503');
    assert.equal(httpStatusReason(399), 'http_redirect');
    assert.equal(httpStatusReason(499), 'http_client_error');
    assert.equal(httpStatusReason(599), 'http_server_error');
    for (const status of [302, 403, 499, 599]) assert.equal(isAuditReason(httpStatusReason(status)), true);
  });

  test('isAuditReason knows every listed code and nothing else', () => {
    for (const reason of AUDIT_REASONS) assert.equal(isAuditReason(reason), true, reason);
    for (const value of ['broker_</td>', 'http_999', '', 'SCOPE_INSUFFICIENT', null, 1]) {
      assert.equal(isAuditReason(value), false, String(value));
    }
    assert.ok(AUDIT_REASONS.includes('subject_signature_invalid'));
    assert.ok(AUDIT_REASONS.includes('actor_issuer_untrusted'));
  });

  test('the README documents every reason code', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Reason codes'));
    const documented = (reason: string) => {
      if (table.includes(`\`${reason}\``)) return true;
      const prefixed = /^(subject|actor)_(.+)$/.exec(reason);
      if (prefixed && table.includes(`\`${prefixed[2]}\``)) return true;
      const status = /^http_(\d{3})$/.exec(reason);
      return status !== null && table.includes('`http_<status>`');
    };
    const missing = AUDIT_REASONS.filter((reason) => !documented(reason));
    assert.deepEqual(missing, []);
  });
});
