import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TRACE_LIMIT, EVENT_SCAN_LIMIT, parseFilters } from '../src/filters.ts';

test('every filter maps onto the AuditQuery field of the same meaning', () => {
  const filters = parseFilters(
    new URLSearchParams({
      user: 'alice',
      agent: 'agent-1',
      target: 'order_summary',
      outcome: 'denied',
      since: '2026-05-04T09:00:00Z',
      until: '2026-05-04T10:00:00.500+02:00',
      limit: '20',
    }),
  );
  assert.deepEqual(filters.errors, []);
  assert.deepEqual(filters.query, {
    user: 'alice',
    agent: 'agent-1',
    target: 'order_summary',
    outcome: 'denied',
    since: '2026-05-04T09:00:00.000Z',
    until: '2026-05-04T08:00:00.500Z',
    limit: EVENT_SCAN_LIMIT,
  });
  assert.equal(filters.limit, 20);
});

test('blank fields mean any; tool is a synonym for target; a time without a zone is UTC', () => {
  const filters = parseFilters(
    new URLSearchParams('user=&agent=+&tool=list_invoices&outcome=&since=2026-05-04T09:30'),
  );
  assert.deepEqual(filters.query, {
    target: 'list_invoices',
    since: '2026-05-04T09:30:00.000Z',
    limit: EVENT_SCAN_LIMIT,
  });
  assert.equal(filters.limit, DEFAULT_TRACE_LIMIT);
  assert.equal(filters.values.target, 'list_invoices');
});

test('values are exact strings, never patterns', () => {
  const filters = parseFilters(new URLSearchParams({ user: '.*', target: '<img src=x onerror=alert(1)>' }));
  assert.equal(filters.query.user, '.*');
  assert.equal(filters.query.target, '<img src=x onerror=alert(1)>');
});

test('refuses an unknown outcome, an unreadable time and an out-of-range limit', () => {
  const filters = parseFilters(
    new URLSearchParams({ outcome: 'maybe', since: 'yesterday', limit: '100000' }),
  );
  assert.equal(filters.errors.length, 3);
  assert.match(filters.errors.join(' '), /outcome must be one of ok, denied, error/);
  assert.match(filters.errors.join(' '), /since must be a date and time/);
  assert.match(filters.errors.join(' '), /limit must be a whole number/);
});
