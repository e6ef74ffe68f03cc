import { RevocationFeed, RevocationList } from '@baton/shared-signals';
import { fmt } from './stats.ts';

/**
 * The per-request cost of the revocation check (issue #11's target: < 5 µs) with 10,000 entries
 * held, on the admit path (the common case) and on a refusal. Claims look like a three-hop token: a
 * subject, a session, a client and a two-actor `act` chain, so every map is consulted.
 */
export async function benchRevocationCheck(iterations = 2_000_000): Promise<Array<Record<string, string>>> {
  const now = Math.floor(Date.now() / 1000);
  const list = new RevocationList();
  const kinds = ['jti', 'subject', 'session', 'client'] as const;
  list.add(
    Array.from({ length: 10_000 }, (_, i) => ({
      kind: kinds[i % 4] as (typeof kinds)[number],
      value: `revoked-${i}`,
      ...(i % 4 === 1 ? { before: now } : {}),
      until: now + 3_600,
    })),
  );
  const feed = new RevocationFeed({ list, maxStalenessMs: 30_000 });
  feed.source('push').heard();
  const admitted = {
    jti: 'token-live',
    sub: 'alice',
    iat: now,
    sid: 'session-live',
    client_id: 'billing-mcp',
    act: { sub: 'billing-mcp', act: { sub: 'orders-mcp' } },
  };
  const refused = { ...admitted, sub: 'revoked-1', iat: now - 10 };
  const rows: Array<Record<string, string>> = [];
  for (const [name, check, claims] of [
    ['RevocationList.check, admit', (c: typeof admitted) => list.check(c), admitted],
    ['RevocationFeed.check, admit (fresh feed)', (c: typeof admitted) => feed.check(c), admitted],
    ['RevocationFeed.check, revoked subject', (c: typeof admitted) => feed.check(c), refused],
  ] as const) {
    let sink = 0;
    for (let i = 0; i < 100_000; i++) if (check(claims)) sink++;
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (check(claims)) sink++;
    const ns = Number(process.hrtime.bigint() - started) / iterations;
    rows.push({
      check: name,
      entries: fmt(list.size),
      'ns / check': fmt(ns, 1),
      'checks / s': fmt(1e9 / ns),
      refused: sink > 0 ? 'yes' : 'no',
    });
  }
  return rows;
}
