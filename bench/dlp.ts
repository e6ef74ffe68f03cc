import { RateLimiter } from '@baton/core/rate-limit';
import { type DlpPolicy, scanResult } from '@baton/mcp-server';
import { createClient } from 'redis';
import { fmt, summarize } from './stats.ts';

/** About 10 KB of what an orders tool returns: JSON lines, no secret and no personal data. */
function ordersText(bytes = 10 * 1024): string {
  let text = '';
  for (let i = 0; text.length < bytes; i++) {
    text += `${JSON.stringify({ id: `ord-${1000 + i}`, sku: `AB-${1234 + i}-567`, quantity: i % 7, total: 42.5 + i, status: 'shipped', placed: '2026-03-05T10:15:00Z', note: 'left at the warehouse door, signed by the night shift' })}\n`;
  }
  return text.slice(0, bytes);
}

const GITHUB_TOKEN = `ghp_${'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'}`;

/** The same 10 KB with a token, a card number, an e-mail address and a phone number in the middle. */
function leakyText(): string {
  const clean = ordersText(10 * 1024 - 120);
  const middle = clean.length / 2;
  return `${clean.slice(0, middle)} ${GITHUB_TOKEN} 4111 1111 1111 1111 alice@acme.example +44 20 7946 0958 ${clean.slice(middle)}`;
}

/** 10 KB as `structuredContent`: 120 orders, each an object of short strings (many leaves). */
function structured(): Record<string, unknown> {
  const orders = ordersText()
    .split('\n')
    .filter((line) => line.endsWith('}'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { content: [{ type: 'text', text: `${orders.length} orders` }], structuredContent: { orders } };
}

async function perScan(result: unknown, policy: DlpPolicy, iterations: number) {
  for (let i = 0; i < 300; i++) await scanResult(result, policy);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await scanResult(result, policy);
    samples.push(performance.now() - started);
  }
  return summarize(samples);
}

/** DLP's added latency per 10 KB tool result (budget ≤ 1 ms), by content and action. */
export async function benchDlp(iterations = 2_000): Promise<Array<Record<string, string>>> {
  const text = (value: string) => ({ content: [{ type: 'text', text: value }] });
  const cases: Array<[string, unknown, DlpPolicy]> = [
    ['10 KB text, clean, all detectors', text(ordersText()), { action: 'redact' }],
    [
      '10 KB text, clean, PII detectors only',
      text(ordersText()),
      { action: 'redact', detectors: ['card', 'iban', 'email', 'phone', 'us_ssn'] },
    ],
    ['10 KB text, clean, secrets only', text(ordersText()), { action: 'redact', detectors: ['secrets'] }],
    ['10 KB text, 5 findings, redact', text(leakyText()), { action: 'redact' }],
    ['10 KB text, 5 findings, block', text(leakyText()), { action: 'block' }],
    ['10 KB structuredContent (1,000+ leaves), clean', structured(), { action: 'redact' }],
    // Worst cases a hostile downstream answer can send: linear, but each candidate costs a validation.
    [
      '10 KB adversarial: "+" and 40-digit runs',
      text(`+${'1'.repeat(40)} `.repeat(250)),
      { action: 'redact' },
    ],
    [
      '10 KB adversarial: phone-like one-digit groups',
      text('+1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 '.repeat(330)),
      { action: 'redact' },
    ],
    [
      '10 KB adversarial: "@" in long word runs',
      text(`x@${'a'.repeat(300)}`.repeat(30)),
      { action: 'redact' },
    ],
  ];
  const rows: Array<Record<string, string>> = [];
  for (const [name, result, policy] of cases) {
    const { p50, p99, mean } = await perScan(result, policy, iterations);
    rows.push({ case: name, 'p50 ms': fmt(p50, 3), 'p99 ms': fmt(p99, 3), 'mean ms': fmt(mean, 3) });
  }
  return rows;
}

/** One rate-limit check (three limiters: person, agent, tool), in memory and on Redis 127.0.0.1:6379. */
export async function benchRateLimits(iterations = 5_000): Promise<Array<Record<string, string>>> {
  const limit = { points: 1_000_000, durationSeconds: 60 };
  const rows: Array<Record<string, string>> = [];
  const measure = async (name: string, limiters: RateLimiter[]) => {
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const started = performance.now();
      for (const limiter of limiters) await limiter.consume(`user-${i % 50}`);
      samples.push(performance.now() - started);
    }
    const { p50, p99 } = summarize(samples.slice(200));
    rows.push({ store: name, 'p50 ms': fmt(p50, 3), 'p99 ms': fmt(p99, 3) });
  };
  await measure(
    'memory',
    ['person', 'agent', 'tool'].map((name) => new RateLimiter(name, limit, { memory: true })),
  );
  const redis = createClient({ url: process.env.BATON_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const keyPrefix = `baton-bench:${process.pid}`;
    await measure(
      'redis (node-redis v6, loopback)',
      ['person', 'agent', 'tool'].map((name) => new RateLimiter(name, limit, { redis, keyPrefix })),
    );
    for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*` }))
      if (keys.length) await redis.del(keys);
  } catch {
    rows.push({ store: 'redis', 'p50 ms': 'unreachable', 'p99 ms': '' });
  } finally {
    if (redis.isOpen) await redis.close();
  }
  return rows;
}
