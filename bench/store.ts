/**
 * The broker's embedded store: PGlite (PostgreSQL in WebAssembly) vs `node:sqlite`, on the operations
 * the broker makes — oidc-provider's client find/upsert and replay find+upsert, the registry's record,
 * findActive and revoke. PGlite runs the broker's real adapter and registry (the PostgreSQL code, via
 * `openEmbeddedDatabase`); SQLite runs the same statements rewritten for SQLite below, with the same
 * in-process revocation set, so the difference is the database. Sequential calls, one at a time.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { AdapterPayload } from 'oidc-provider';
import type { IssuedToken, RevocationTarget } from '../packages/broker/src/registry/token-registry.ts';
import { openEmbeddedDatabase } from '../packages/broker/src/stores/embedded-database.ts';
import { createPostgresAdapterFactory } from '../packages/broker/src/stores/postgres-adapter.ts';
import { PostgresRedisTokenRegistry } from '../packages/broker/src/stores/postgres-redis-registry.ts';
import { fmt, summarize } from './stats.ts';

/** What the bench calls, on either database. */
interface StoreUnderTest {
  findClient(id: string): Promise<unknown>;
  upsertClient(id: string, payload: AdapterPayload): Promise<void>;
  /** oidc-provider's replay check: find the jti, then record it (insert-once). */
  replay(jti: string): Promise<void>;
  record(token: IssuedToken): Promise<void>;
  findActive(jti: string, now: number): Promise<IssuedToken | undefined>;
  /** The targets the SQLite comparison implements (the registry has more). */
  revoke(target: BenchTarget): Promise<unknown>;
  close(): Promise<void>;
}

type BenchTarget = Extract<RevocationTarget, { jti: string } | { root: string }> | { subject: string };

async function openPglite(directory: string): Promise<StoreUnderTest> {
  const database = await openEmbeddedDatabase(directory);
  const registry = await PostgresRedisTokenRegistry.create({
    pool: database.connection,
    redis: 'single-process',
  });
  const adapter = createPostgresAdapterFactory(database.connection);
  await adapter.migrate();
  const clients = adapter('Client');
  const replays = adapter('ReplayDetection');
  return {
    findClient: (id) => clients.find(id),
    upsertClient: (id, payload) => clients.upsert(id, payload, undefined as never),
    async replay(jti) {
      await replays.find(jti);
      await replays.upsert(jti, { jti, iat: 0 } as AdapterPayload, 300);
    },
    record: (token) => registry.record(token),
    findActive: (jti, now) => registry.findActive(jti, now),
    revoke: (target) => registry.revoke(target),
    async close() {
      await registry.close();
      await database.close();
    },
  };
}

/** The same schema and statements, in SQLite's dialect (a second code path the PGlite choice avoids). */
async function openSqlite(directory: string): Promise<StoreUnderTest> {
  const { DatabaseSync } = await import('node:sqlite');
  const db: DatabaseSync = new DatabaseSync(join(directory, 'broker.sqlite'));
  db.exec(`
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS oidc_payloads (
  model text NOT NULL, id text NOT NULL, payload text NOT NULL,
  grant_id text, user_code text, uid text, expires_at integer,
  PRIMARY KEY (model, id)
);
CREATE INDEX IF NOT EXISTS oidc_payloads_grant_id_idx ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_payloads_expires_at_idx ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS issued_tokens (
  jti text PRIMARY KEY, parent text, root text NOT NULL, subject text NOT NULL, client_id text NOT NULL,
  audience text NOT NULL, exp integer NOT NULL, retain_until integer NOT NULL
);
CREATE INDEX IF NOT EXISTS issued_tokens_retain_until_idx ON issued_tokens (retain_until);
CREATE TABLE IF NOT EXISTS revocations (
  kind text NOT NULL, value text NOT NULL, revoked_at integer NOT NULL, PRIMARY KEY (kind, value)
);`);
  const upsert = db.prepare(`
INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
  user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`);
  const insertOnce = db.prepare(`
INSERT INTO oidc_payloads (model, id, payload, expires_at) VALUES ('ReplayDetection', ?, ?, ?)
ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at
WHERE oidc_payloads.expires_at IS NOT NULL AND oidc_payloads.expires_at <= ?`);
  const find = db.prepare(
    'SELECT payload FROM oidc_payloads WHERE model = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)',
  );
  const record = db.prepare(`
INSERT INTO issued_tokens (jti, parent, root, subject, client_id, audience, exp, retain_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (jti) DO UPDATE SET parent = excluded.parent, root = excluded.root, subject = excluded.subject,
  client_id = excluded.client_id, audience = excluded.audience, exp = excluded.exp,
  retain_until = max(issued_tokens.retain_until, excluded.exp)`);
  const extend = db.prepare(`
WITH RECURSIVE ancestors (jti, parent, depth) AS (
  SELECT jti, parent, 1 FROM issued_tokens WHERE jti = ?
  UNION ALL
  SELECT t.jti, t.parent, a.depth + 1 FROM issued_tokens t JOIN ancestors a ON t.jti = a.parent WHERE a.depth < 33
)
UPDATE issued_tokens SET retain_until = ? WHERE jti IN (SELECT jti FROM ancestors) AND retain_until < ?`);
  const chain = db.prepare(`
WITH RECURSIVE chain AS (
  SELECT jti, parent, root, subject, client_id, audience, exp, 1 AS depth FROM issued_tokens WHERE jti = ?
  UNION ALL
  SELECT t.jti, t.parent, t.root, t.subject, t.client_id, t.audience, t.exp, c.depth + 1
  FROM issued_tokens t JOIN chain c ON t.jti = c.parent WHERE c.depth < 33
)
SELECT jti, parent, root, subject, client_id, audience, exp FROM chain`);
  const revoke = db.prepare('INSERT OR IGNORE INTO revocations (kind, value, revoked_at) VALUES (?, ?, ?)');
  const revoked = new Set(
    db
      .prepare("SELECT kind || ':' || value AS member FROM revocations")
      .all()
      .map((row) => String(row.member)),
  );
  const memberOf = (target: BenchTarget) =>
    'jti' in target
      ? `jti:${target.jti}`
      : 'root' in target
        ? `root:${target.root}`
        : `sub:${target.subject}`;

  return {
    async findClient(id) {
      const row = find.get('Client', id, Date.now());
      return row ? JSON.parse(String(row.payload)) : undefined;
    },
    async upsertClient(id, payload) {
      upsert.run('Client', id, JSON.stringify(payload), null, null, null, null);
    },
    async replay(jti) {
      const now = Date.now();
      find.get('ReplayDetection', jti, now);
      const { changes } = insertOnce.run(jti, JSON.stringify({ jti }), now + 300_000, now);
      if (changes === 0) throw new Error('replayed');
    },
    async record(token) {
      db.exec('BEGIN');
      try {
        record.run(
          token.jti,
          token.parent,
          token.root,
          token.subject,
          token.clientId,
          token.audience,
          token.exp,
          token.exp,
        );
        if (token.parent) extend.run(token.parent, token.exp, token.exp);
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    },
    async findActive(jti, now) {
      const rows = chain.all(jti);
      const byJti = new Map(rows.map((row) => [String(row.jti), row]));
      const first = byJti.get(jti);
      if (!first || Number(first.exp) <= now) return undefined;
      if (revoked.has(`root:${first.root}`) || revoked.has(`sub:${first.subject}`)) return undefined;
      let current = first;
      for (let hop = 0; hop < 32; hop++) {
        if (revoked.has(`jti:${current.jti}`)) return undefined;
        if (current.parent === null) {
          return {
            jti: String(first.jti),
            parent: first.parent === null ? null : String(first.parent),
            root: String(first.root),
            subject: String(first.subject),
            clientId: String(first.client_id),
            audience: String(first.audience),
            exp: Number(first.exp),
          };
        }
        const parent = byJti.get(String(current.parent));
        if (!parent) return undefined;
        current = parent;
      }
      return undefined;
    },
    async revoke(target) {
      const member = memberOf(target);
      const colon = member.indexOf(':');
      revoke.run(member.slice(0, colon), member.slice(colon + 1), Date.now());
      revoked.add(member);
    },
    async close() {
      db.close();
    },
  };
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry));
  return total;
}

async function timed(count: number, operation: (index: number) => Promise<unknown>) {
  const latencies: number[] = [];
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const t0 = performance.now();
    await operation(index);
    latencies.push(performance.now() - t0);
  }
  return { rate: count / ((performance.now() - started) / 1000), ...summarize(latencies) };
}

/** Each database in a fresh directory: cold start, each operation, reopen, size on disk. */
export async function benchStore(count = 2000): Promise<Array<Record<string, string>>> {
  const rows: Array<Record<string, string>> = [];
  const databases: Array<[string, (directory: string) => Promise<StoreUnderTest>]> = [
    ['PGlite (broker code)', openPglite],
    ['node:sqlite (WAL)', openSqlite],
  ];
  for (const [name, open] of databases) {
    const directory = await mkdtemp(join(tmpdir(), 'baton-bench-store-'));
    try {
      let t0 = performance.now();
      let store = await open(directory);
      const coldMs = performance.now() - t0;
      const now = Math.floor(Date.now() / 1000);
      const clientIds = Array.from({ length: 100 }, () => randomUUID());
      const client = (id: string) =>
        ({ client_id: id, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } }) as never;
      for (const id of clientIds) await store.upsertClient(id, client(id));
      // Three-hop chains to look up: root-derived token, child, grandchild.
      const tails: string[] = [];
      for (let chain = 0; chain < 200; chain++) {
        const root = `https://idp.example#${randomUUID()}`;
        let parent: string | null = null;
        for (let hop = 0; hop < 3; hop++) {
          const jti = randomUUID();
          await store.record({
            jti,
            parent,
            root,
            subject: 'user-alice',
            clientId: 'orders-mcp',
            audience: 'https://billing.example',
            exp: now + 300,
          });
          parent = jti;
        }
        tails.push(parent!);
      }
      const results: Array<[string, Awaited<ReturnType<typeof timed>>]> = [
        ['client find', await timed(count, (i) => store.findClient(clientIds[i % clientIds.length]!))],
        [
          'client upsert',
          await timed(count, (i) => store.upsertClient(clientIds[i % 100]!, client(clientIds[i % 100]!))),
        ],
        ['replay find+upsert', await timed(count, () => store.replay(randomUUID()))],
        [
          'registry record',
          await timed(count, (i) =>
            store.record({
              jti: randomUUID(),
              parent: tails[i % tails.length]!,
              root: 'https://idp.example#bench',
              subject: 'user-alice',
              clientId: 'billing-mcp',
              audience: 'https://api.example',
              exp: now + 300,
            }),
          ),
        ],
        [
          'registry findActive (3 hops)',
          await timed(count, (i) => store.findActive(tails[i % tails.length]!, now)),
        ],
        ['revoke', await timed(count, () => store.revoke({ jti: randomUUID() }))],
      ];
      await store.close();
      t0 = performance.now();
      store = await open(directory);
      const warmMs = performance.now() - t0;
      await store.close();
      const bytes = await sizeOf(directory);
      for (const [operation, result] of results) {
        rows.push({
          store: name,
          operation,
          'per second': fmt(result.rate),
          'p50 ms': fmt(result.p50, 3),
          'p99 ms': fmt(result.p99, 3),
        });
      }
      rows.push({
        store: name,
        operation: 'open: cold (create + migrate) / warm (reopen), on disk',
        'per second': '',
        'p50 ms': `${fmt(coldMs)} / ${fmt(warmMs)} ms`,
        'p99 ms': `${fmt(bytes / 1024 / 1024, 1)} MiB`,
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
  return rows;
}
