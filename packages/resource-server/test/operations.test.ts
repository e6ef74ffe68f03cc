import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  BoundedLabel,
  Counter,
  checkReadiness,
  createMetricsRegistry,
  drainServer,
  operationsHandler,
} from '../src/operations/index.ts';

describe('readiness', () => {
  it('a check that outlives the deadline is reported as a timeout, and its signal aborts', async () => {
    let aborted = false;
    const report = await checkReadiness(
      [
        { name: 'fast', check: () => undefined },
        {
          name: 'hung',
          check: (signal) =>
            new Promise((resolve) => {
              signal.addEventListener('abort', () => {
                aborted = true;
                resolve(undefined);
              });
            }),
        },
      ],
      { timeoutMs: 100 },
    );
    assert.deepEqual(report, {
      ready: false,
      checks: [
        { name: 'fast', ok: true },
        { name: 'hung', ok: false, error: 'timeout' },
      ],
    });
    assert.equal(aborted, true);
  });

  it('never reports an error message (it may carry a connection string), only a code-shaped code', async () => {
    const report = await checkReadiness([
      { name: 'a', check: () => Promise.reject(new Error('connect postgres://u:pw@db:5432 failed')) },
      {
        name: 'b',
        check: () => Promise.reject(Object.assign(new Error('x'), { code: 'postgres://u:pw@db' })),
      },
      { name: 'c', check: () => Promise.reject(Object.assign(new Error('x'), { code: '57P03' })) },
    ]);
    assert.deepEqual(
      report.checks.map((check) => check.error),
      ['failed', 'failed', '57P03'],
    );
    assert.equal(JSON.stringify(report).includes('pw'), false);
  });
  it('a readiness cache that would never expire is refused at construction; a probe that threw is not reused', async () => {
    assert.throws(() => operationsHandler({ readinessCacheMs: Number.POSITIVE_INFINITY }), TypeError);
    assert.throws(() => operationsHandler({ readinessCacheMs: -1 }), TypeError);
    const malformed = [null] as unknown as Parameters<typeof operationsHandler>[0]['checks'];
    const handler = operationsHandler({ checks: malformed });
    await assert.rejects(handler(new Request('http://127.0.0.1/readyz')));
    await assert.rejects(handler(new Request('http://127.0.0.1/readyz')));
  });

  it('a flood of unauthenticated /readyz requests costs the stores one probe, not one per request', async () => {
    let probes = 0;
    const checks = [
      {
        name: 'postgres',
        check: async () => {
          probes++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
      },
    ];
    const handler = operationsHandler({ checks });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => handler(new Request('http://127.0.0.1/readyz'))),
    );
    assert.ok(answers.every((answer) => answer?.status === 200));
    assert.equal(probes, 1);
    // Reused for the cache interval once settled, then probed again.
    await handler(new Request('http://127.0.0.1/readyz'));
    assert.equal(probes, 1);
    const fresh = operationsHandler({ checks, readinessCacheMs: 0 });
    await fresh(new Request('http://127.0.0.1/readyz'));
    assert.equal(probes, 2);
  });
});

describe('metrics', () => {
  it('two registries in one process keep their own series (no global default registry)', async () => {
    const first = createMetricsRegistry();
    const second = createMetricsRegistry();
    for (const registry of [first, second]) {
      new Counter({ name: 'baton_test_total', help: 'test', registers: [registry] });
    }
    (first.getSingleMetric('baton_test_total') as Counter).inc(3);
    assert.match(await first.metrics(), /^baton_test_total 3$/m);
    assert.match(await second.metrics(), /^baton_test_total 0$/m);
  });

  it('a bounded label admits known values, a capped number of new ones, and no free text', () => {
    const label = new BoundedLabel(['invalid_grant'], 2);
    assert.equal(label.of('invalid_grant'), 'invalid_grant');
    assert.equal(label.of('reason_a'), 'reason_a');
    assert.equal(label.of('reason_b'), 'reason_b');
    assert.equal(label.of('reason_c'), 'other', 'past the cap');
    assert.equal(label.of('reason_a'), 'reason_a', 'seen before');
    assert.equal(label.of('alice@example.com signed in'), 'other');
    assert.equal(label.of('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig'.repeat(2)), 'other', 'too long');
    assert.equal(label.of(42), 'other');
  });
});

describe('drainServer', () => {
  it('lets a request in flight finish, closes idle keep-alive connections at once', async () => {
    const server = createServer((_request, response) => setTimeout(() => response.end('done'), 300));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const answer = fetch(url).then((response) => response.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    const { cut } = await drainServer(server, { deadlineMs: 5000 });
    assert.equal(await answer, 'done');
    assert.equal(cut, 0);
    assert.ok(
      performance.now() - started < 2000,
      'the idle keep-alive connection did not hold it to the deadline',
    );
  });

  it('cuts a request still running at the deadline', async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const answer = fetch(url).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { cut } = await drainServer(server, { deadlineMs: 200 });
    assert.equal(cut, 1);
    assert.equal(await answer, 'cut');
  });
});
