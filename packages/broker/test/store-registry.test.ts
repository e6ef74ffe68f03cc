import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { migrationLedger, runMigrations } from '@baton/core/stores';
import { createClient } from 'redis';
import { MemoryTokenRegistry } from '../src/registry/memory-registry.ts';
import type { IssuedToken, TokenRegistry } from '../src/registry/token-registry.ts';
import { StoreTimeoutError } from '../src/stores/deadline.ts';
import { type EmbeddedDatabase, openEmbeddedDatabase } from '../src/stores/embedded-database.ts';
import { PostgresRedisTokenRegistry } from '../src/stores/postgres-redis-registry.ts';
import { HYDRATED, RedisRevocationSet } from '../src/stores/redis-revocation-set.ts';
import { registryMigrations, registryTables } from '../src/stores/registry-schema.ts';
import {
  deleteKeys,
  dropTables,
  openPool,
  openRedis,
  POSTGRES_URL,
  REDIS_URL,
  type TestRedis,
  UNREACHABLE_POSTGRES_URL,
  UNREACHABLE_REDIS_URL,
  uniquePrefix,
} from './stores/servers.ts';

const NOW = Math.floor(Date.now() / 1000);

/** The Redis key of a registry's revocation set (a registry given a Redis connection has one). */
function redisKeyOf(registry: PostgresRedisTokenRegistry): string {
  assert.ok(registry.revocations instanceof RedisRevocationSet);
  return registry.revocations.key;
}

/** A token with fresh identifiers, so tests never see each other's records in a shared store. */
function token(overrides: Partial<IssuedToken> = {}): IssuedToken {
  return {
    jti: randomUUID(),
    parent: null,
    root: `https://idp.example#${randomUUID()}`,
    subject: `user-${randomUUID()}`,
    clientId: 'orders-agent',
    audience: 'https://billing.example/mcp',
    exp: NOW + 300,
    ...overrides,
  };
}

/** root-derived token, child, grandchild: the shape every cascade test revokes into. */
async function recordChain(registry: TokenRegistry): Promise<[IssuedToken, IssuedToken, IssuedToken]> {
  const first = token();
  const child = token({
    parent: first.jti,
    root: first.root,
    subject: first.subject,
    clientId: 'billing-mcp',
  });
  const grandchild = token({
    parent: child.jti,
    root: first.root,
    subject: first.subject,
    clientId: 'ledger',
  });
  for (const issued of [first, child, grandchild]) await registry.record(issued);
  return [first, child, grandchild];
}

/** Each token's activity; `findActive` must agree with `isActive` (the record, or nothing). */
async function activity(registry: TokenRegistry, tokens: IssuedToken[], now = NOW): Promise<boolean[]> {
  return Promise.all(
    tokens.map(async (issued) => {
      const active = await registry.isActive(issued.jti, now);
      assert.deepEqual(
        await registry.findActive(issued.jti, now),
        active ? await registry.find(issued.jti) : undefined,
        'findActive agrees with isActive',
      );
      return active;
    }),
  );
}

/** The behaviour every TokenRegistry must show, whatever it stores in. */
function registryConformance(name: string, makeRegistry: () => Promise<TokenRegistry>): void {
  describe(`${name}: TokenRegistry conformance`, () => {
    let registry: TokenRegistry;
    beforeEach(async () => {
      registry = await makeRegistry();
    });
    afterEach(() => registry.close());

    it('finds what it recorded, and nothing else', async () => {
      const issued = token({ parent: 'some-parent' });
      await registry.record(issued);
      assert.deepEqual(await registry.find(issued.jti), issued);
      assert.equal(await registry.find(randomUUID()), undefined);
    });

    it('a re-recorded jti replaces the earlier record', async () => {
      const issued = token();
      await registry.record(issued);
      await registry.record({ ...issued, audience: 'https://other.example', exp: issued.exp + 60 });
      assert.deepEqual(await registry.find(issued.jti), {
        ...issued,
        audience: 'https://other.example',
        exp: issued.exp + 60,
      });
    });

    it('is active for a recorded, unexpired, unrevoked token', async () => {
      const issued = token();
      await registry.record(issued);
      assert.equal(await registry.isActive(issued.jti, NOW), true);
    });

    it('findActive returns the record of an active token, and nothing once its root is revoked', async () => {
      const [, child] = await recordChain(registry);
      assert.deepEqual(await registry.findActive(child.jti, NOW), child);
      await registry.revoke({ root: child.root });
      assert.equal(await registry.findActive(child.jti, NOW), undefined);
      assert.equal(await registry.findActive(randomUUID(), NOW), undefined);
    });

    it('is inactive for an unknown token', async () => {
      assert.equal(await registry.isActive(randomUUID(), NOW), false);
    });

    it('is inactive once expired', async () => {
      const issued = token({ exp: NOW + 60 });
      await registry.record(issued);
      assert.equal(await registry.isActive(issued.jti, NOW + 59), true);
      assert.equal(await registry.isActive(issued.jti, NOW + 60), false);
      const past = token({ exp: NOW - 1 });
      await registry.record(past);
      assert.equal(await registry.isActive(past.jti, NOW), false);
    });

    it('revoking the middle of a chain deactivates it and its descendants, not its parent', async () => {
      const chain = await recordChain(registry);
      assert.deepEqual(await activity(registry, chain), [true, true, true]);
      await registry.revoke({ jti: chain[1].jti });
      assert.deepEqual(await activity(registry, chain), [true, false, false]);
    });

    it('revoking the last token deactivates only that token', async () => {
      const chain = await recordChain(registry);
      await registry.revoke({ jti: chain[2].jti });
      assert.deepEqual(await activity(registry, chain), [true, true, false]);
    });

    it('revoking the root grant deactivates the whole chain, and no other', async () => {
      const chain = await recordChain(registry);
      const other = await recordChain(registry);
      await registry.revoke({ root: chain[0].root });
      assert.deepEqual(await activity(registry, chain), [false, false, false]);
      assert.deepEqual(await activity(registry, other), [true, true, true]);
    });

    it('revoking a subject deactivates every token acting for it, including ones recorded later', async () => {
      const chain = await recordChain(registry);
      const alone = token({ subject: chain[0].subject });
      const someoneElse = token();
      await registry.record(alone);
      await registry.record(someoneElse);
      await registry.revoke({ subject: chain[0].subject });
      assert.deepEqual(await activity(registry, [...chain, alone, someoneElse]), [
        false,
        false,
        false,
        false,
        true,
      ]);
      const later = token({ subject: chain[0].subject });
      await registry.record(later);
      assert.equal(await registry.isActive(later.jti, NOW), false);
    });

    it('revoking twice is harmless', async () => {
      const issued = token();
      await registry.record(issued);
      await registry.revoke({ jti: issued.jti });
      await registry.revoke({ jti: issued.jti });
      assert.equal(await registry.isActive(issued.jti, NOW), false);
    });

    it('a missing ancestor makes its descendants inactive', async () => {
      const orphan = token({ parent: randomUUID() });
      const grandchild = token({ parent: orphan.jti, root: orphan.root, subject: orphan.subject });
      await registry.record(orphan);
      await registry.record(grandchild);
      assert.deepEqual(await activity(registry, [orphan, grandchild]), [false, false]);
    });

    it("a subject revoked before an instant refuses its tokens issued before it only, not another person's", async () => {
      const old = token({ issuedAt: NOW - 100 });
      const child = token({ parent: old.jti, root: old.root, subject: old.subject, issuedAt: NOW - 50 });
      const fresh = token({ subject: old.subject, issuedAt: NOW });
      const unknownAge = token({ subject: old.subject });
      const someoneElse = token({ issuedAt: NOW - 100 });
      for (const issued of [old, child, fresh, unknownAge, someoneElse]) await registry.record(issued);
      const { covered, tokens } = await registry.revoke({ subject: old.subject, before: NOW - 10 }, NOW);
      assert.equal(covered, 3, 'the two issued before, and the one of unknown age');
      assert.deepEqual(tokens, [], 'a subject revocation is one receiver entry, not a list of tokens');
      assert.deepEqual(await activity(registry, [old, child, fresh, unknownAge, someoneElse]), [
        false,
        false,
        true,
        false,
        true,
      ]);
      assert.deepEqual(await registry.status(old.jti, NOW), { active: false, reason: 'subject_revoked' });
    });

    it('a subject cut-off only widens: an earlier before changes nothing, disabling covers all', async () => {
      const fresh = token({ issuedAt: NOW });
      await registry.record(fresh);
      await registry.revoke({ subject: fresh.subject, before: NOW + 1 }, NOW);
      await registry.revoke({ subject: fresh.subject, before: NOW - 1000 }, NOW);
      assert.equal(await registry.isActive(fresh.jti, NOW), false, 'the later cut-off is kept');
      await registry.revoke({ subject: fresh.subject }, NOW);
      await registry.revoke({ subject: fresh.subject, before: NOW - 1000 }, NOW);
      const mine = (await registry.listRevocations()).filter((entry) => entry.value === fresh.subject);
      assert.deepEqual(mine, [{ kind: 'subject', value: fresh.subject }]);
    });

    it('a disabled subject refuses every token until lifted; lifting re-enables', async () => {
      const later = token({ issuedAt: NOW + 1000 });
      await registry.record(later);
      await registry.revoke({ subject: later.subject }, NOW);
      assert.equal(await registry.isActive(later.jti, NOW), false);
      assert.equal(
        await registry.refusalOf({ subject: later.subject, issuedAt: NOW + 5000 }),
        'subject_revoked',
      );
      assert.equal(await registry.lift({ subject: later.subject }), true);
      assert.equal(await registry.lift({ subject: later.subject }), false, 'nothing left to lift');
      assert.equal(await registry.isActive(later.jti, NOW), true);
      assert.equal(await registry.refusalOf({ subject: later.subject, issuedAt: NOW }), undefined);
    });

    it('lifting a disabled subject to a cut-off is one write: its earlier tokens stay refused, its later ones pass; a subject not disabled is left alone', async () => {
      const earlier = token({ issuedAt: NOW + 10 });
      await registry.record(earlier);
      await registry.revoke({ subject: earlier.subject }, NOW);
      assert.equal(await registry.lift({ subject: earlier.subject }, { before: NOW + 100 }), true);
      assert.equal(await registry.isActive(earlier.jti, NOW), false, 'issued before the lift: still refused');
      assert.equal(await registry.refusalOf({ subject: earlier.subject, issuedAt: NOW + 100 }), undefined);
      assert.equal(await registry.lift({ subject: earlier.subject }, { before: NOW + 200 }), false);
      assert.equal(
        await registry.refusalOf({ subject: earlier.subject, issuedAt: NOW + 150 }),
        undefined,
        'a second lift does not move the cut-off',
      );
    });

    it('a session revocation refuses the tokens of that session only', async () => {
      const session = `sid-${randomUUID()}`;
      const inSession = token({ session });
      const child = token({
        parent: inSession.jti,
        root: inSession.root,
        subject: inSession.subject,
        session,
      });
      const otherSession = token({ subject: inSession.subject, session: `sid-${randomUUID()}` });
      const noSession = token({ subject: inSession.subject });
      for (const issued of [inSession, child, otherSession, noSession]) await registry.record(issued);
      const { covered } = await registry.revoke({ session }, NOW);
      assert.equal(covered, 2);
      assert.deepEqual(await activity(registry, [inSession, child, otherSession, noSession]), [
        false,
        false,
        true,
        true,
      ]);
      assert.deepEqual(await registry.status(child.jti, NOW), { active: false, reason: 'session_revoked' });
      assert.equal(await registry.refusalOf({ session }), 'session_revoked');
      assert.equal(await registry.refusalOf({ session: 'another' }), undefined);
    });

    it('a client revocation refuses its tokens and every chain it is an actor in, not its ancestors, until lifted', async () => {
      // Client ids of this test only: the PostgreSQL suites share their tables between tests.
      const agent = `agent-${randomUUID()}`;
      const service = `service-${randomUUID()}`;
      const first = token({ clientId: agent });
      const child = token({ parent: first.jti, root: first.root, subject: first.subject, clientId: service });
      const grandchild = token({
        parent: child.jti,
        root: first.root,
        subject: first.subject,
        clientId: `ledger-${randomUUID()}`,
      });
      for (const issued of [first, child, grandchild]) await registry.record(issued);
      const elsewhere = token({ clientId: `ledger-${randomUUID()}` });
      const notIt = token({ clientId: agent });
      await registry.record(elsewhere);
      await registry.record(notIt);
      const { covered } = await registry.revoke({ client: child.clientId }, NOW);
      assert.equal(covered, 2, 'its token and the one exchanged from it');
      assert.deepEqual(await activity(registry, [first, child, grandchild, elsewhere, notIt]), [
        true,
        false,
        false,
        true,
        true,
      ]);
      assert.deepEqual(await registry.status(grandchild.jti, NOW), {
        active: false,
        reason: 'client_revoked',
      });
      assert.equal(await registry.refusalOf({ clients: ['someone', child.clientId] }), 'client_revoked');
      assert.equal(await registry.lift({ client: child.clientId }), true);
      assert.deepEqual(await activity(registry, [first, child, grandchild]), [true, true, true]);
    });

    it('counts what a jti or root revocation covers, and lists each token for receivers', async () => {
      const [first, child, grandchild] = await recordChain(registry);
      const expired = token({ parent: child.jti, root: first.root, subject: first.subject, exp: NOW - 1 });
      await registry.record(expired);
      const byJti = await registry.revoke({ jti: child.jti }, NOW);
      assert.equal(byJti.covered, 2, 'itself and its unexpired descendant');
      assert.deepEqual(
        [...byJti.tokens].sort((a, b) => a.jti.localeCompare(b.jti)),
        [child, grandchild].map(({ jti, exp }) => ({ jti, exp })).sort((a, b) => a.jti.localeCompare(b.jti)),
      );
      const byRoot = await registry.revoke({ root: first.root }, NOW);
      assert.equal(byRoot.covered, 3);
      assert.equal(byRoot.tokens.length, 3);
      assert.deepEqual(await registry.status(first.jti, NOW), { active: false, reason: 'token_revoked' });
      assert.equal(await registry.refusalOf({ root: first.root }), 'token_revoked');
    });

    it('lists revocations in force by root, subject, session and client (not by jti)', async () => {
      const issued = token();
      await registry.record(issued);
      await registry.revoke({ jti: issued.jti }, NOW);
      const root = `https://idp.example#${randomUUID()}`;
      const subject = `user-${randomUUID()}`;
      const session = `sid-${randomUUID()}`;
      const client = `client-${randomUUID()}`;
      await registry.revoke({ root }, NOW);
      await registry.revoke({ subject, before: NOW }, NOW);
      await registry.revoke({ session }, NOW);
      await registry.revoke({ client }, NOW);
      const listed = await registry.listRevocations();
      const mine = listed.filter((entry) => [root, subject, session, client].includes(entry.value));
      assert.deepEqual(
        mine.sort((a, b) => a.kind.localeCompare(b.kind)),
        [
          { kind: 'client', value: client },
          { kind: 'root', value: root },
          { kind: 'session', value: session },
          { kind: 'subject', value: subject, before: NOW },
        ],
      );
      assert.ok(!listed.some((entry) => entry.value === issued.jti));
    });

    it('an unrecorded token is refused by nothing when nothing of it is revoked', async () => {
      assert.equal(
        await registry.refusalOf({
          root: `https://idp.example#${randomUUID()}`,
          subject: randomUUID(),
          issuedAt: NOW,
          session: randomUUID(),
          clients: [randomUUID()],
        }),
        undefined,
      );
    });

    it('an expired ancestor does not deactivate a live descendant (it may outlive its parent)', async () => {
      const parent = token({ exp: NOW + 10 });
      const child = token({ parent: parent.jti, root: parent.root, subject: parent.subject, exp: NOW + 100 });
      await registry.record(parent);
      await registry.record(child);
      assert.deepEqual(await activity(registry, [parent, child], NOW + 50), [false, true]);
    });
  });
}

registryConformance('MemoryTokenRegistry', async () => new MemoryTokenRegistry());

describe('the embedded store: PostgresRedisTokenRegistry on PGlite, revocation set in the process', () => {
  let directory: string;
  let database: EmbeddedDatabase;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'baton-registry-'));
    database = await openEmbeddedDatabase(directory);
  });
  after(async () => {
    await database.close();
    await rm(directory, { recursive: true, force: true });
  });

  registryConformance('embedded', () =>
    PostgresRedisTokenRegistry.create({ pool: database.connection, redis: 'single-process' }),
  );

  it('loads the revocations table when it opens: a revocation written before is in force at once', async () => {
    const first = await PostgresRedisTokenRegistry.create({
      pool: database.connection,
      redis: 'single-process',
    });
    const [root, child] = await recordChain(first);
    await first.revoke({ jti: child.jti });
    await first.close();
    const reopened = await PostgresRedisTokenRegistry.create({
      pool: database.connection,
      redis: 'single-process',
    });
    try {
      assert.deepEqual(await activity(reopened, [root, child]), [true, false]);
      assert.deepEqual(
        reopened.readinessChecks().map((check) => check.name),
        ['postgres'],
      );
    } finally {
      await reopened.close();
    }
  });
});

describe('PostgresRedisTokenRegistry', () => {
  const prefix = uniquePrefix();
  const options = { tablePrefix: prefix, keyPrefix: `baton-test:${prefix}` };
  const pool = openPool();
  let redis: TestRedis;

  before(async () => {
    redis = await openRedis();
  });
  after(async () => {
    await dropTables(pool, prefix);
    await deleteKeys(redis, options.keyPrefix);
    await redis.close();
    await pool.end();
  });

  // The registry opens and closes its own pool and client from URLs here; the tests below borrow them.
  registryConformance('PostgresRedisTokenRegistry', () =>
    PostgresRedisTokenRegistry.create({ pool: POSTGRES_URL, redis: REDIS_URL, ...options }),
  );

  describe('shared by several broker instances', () => {
    const poolB = openPool();
    let redisB: TestRedis;
    let a: PostgresRedisTokenRegistry;
    let b: PostgresRedisTokenRegistry;

    before(async () => {
      redisB = await openRedis();
      a = await PostgresRedisTokenRegistry.create({ pool, redis, ...options });
      b = await PostgresRedisTokenRegistry.create({ pool: poolB, redis: redisB, ...options });
    });
    after(async () => {
      await a.close();
      await b.close();
      await redisB.close();
      await poolB.end();
    });

    it('a token recorded through one instance is active through the other', async () => {
      const chain = await recordChain(a);
      assert.deepEqual(await activity(b, chain), [true, true, true]);
      assert.deepEqual(await b.find(chain[2].jti), chain[2]);
    });

    it('a revocation through one instance is seen by the other at once', async () => {
      const chain = await recordChain(a);
      assert.deepEqual(await activity(b, chain), [true, true, true]);
      await a.revoke({ jti: chain[1].jti });
      assert.deepEqual(await activity(b, chain), [true, false, false]);
      const other = await recordChain(b);
      await b.revoke({ subject: other[0].subject });
      assert.deepEqual(await activity(a, other), [false, false, false]);
    });

    it('after Redis loses the revocation set, revoked tokens stay revoked (PostgreSQL is durable)', async () => {
      const chain = await recordChain(a);
      const byRoot = await recordChain(a);
      const untouched = await recordChain(a);
      await a.revoke({ jti: chain[1].jti });
      await b.revoke({ root: byRoot[0].root });

      assert.ok((await deleteKeys(redis, options.keyPrefix)) >= 1, 'the test deleted the revocation set');
      assert.equal(await redis.exists(redisKeyOf(a)), 0);

      // The first check after the loss answers from PostgreSQL and reloads Redis.
      assert.deepEqual(await activity(b, chain), [true, false, false]);
      assert.deepEqual(await activity(a, byRoot), [false, false, false]);
      assert.deepEqual(await activity(b, untouched), [true, true, true]);
      assert.equal(await redis.sIsMember(redisKeyOf(a), HYDRATED), 1);
      assert.equal(await redis.sIsMember(redisKeyOf(a), `jti:${chain[1].jti}`), 1);
      assert.equal(await redis.sIsMember(redisKeyOf(a), `root:${byRoot[0].root}`), 1);
    });

    it('a revocation made while the set is gone is kept by the reload', async () => {
      const chain = await recordChain(a);
      await deleteKeys(redis, options.keyPrefix);
      await a.revoke({ jti: chain[0].jti });
      assert.deepEqual(await activity(b, chain), [false, false, false]);
      assert.equal(await b.rehydrate(), true);
      assert.deepEqual(await activity(a, chain), [false, false, false]);
    });

    it('subject, session and client revocations and lifts through one instance are seen by the other at once', async () => {
      const session = `sid-${randomUUID()}`;
      const client = `agent-${randomUUID()}`;
      const person = token({ issuedAt: NOW - 10 });
      const inSession = token({ session });
      const ofClient = token({ clientId: client });
      for (const issued of [person, inSession, ofClient]) await a.record(issued);
      await a.revoke({ subject: person.subject, before: NOW }, NOW);
      await a.revoke({ session }, NOW);
      await a.revoke({ client }, NOW);
      assert.deepEqual(await activity(b, [person, inSession, ofClient]), [false, false, false]);
      assert.equal(
        await b.refusalOf({ subject: person.subject, issuedAt: NOW }),
        undefined,
        'issued at the cut-off',
      );
      assert.equal(await b.refusalOf({ subject: person.subject, issuedAt: NOW - 1 }), 'subject_revoked');
      await b.lift({ client });
      await b.lift({ subject: person.subject });
      assert.deepEqual(await activity(a, [person, inSession, ofClient]), [true, false, true]);
    });

    it('after Redis loses the subject hash, subject revocations stay in force (PostgreSQL is durable)', async () => {
      const person = token({ issuedAt: NOW - 10 });
      await a.record(person);
      await a.revoke({ subject: person.subject }, NOW);
      assert.ok(a.revocations instanceof RedisRevocationSet);
      await redis.del(a.revocations.subjectsKey);
      assert.equal(await b.isActive(person.jti, NOW), false);
      assert.equal(await redis.hGet(a.revocations.subjectsKey, person.subject), 'all', 'reloaded');
      assert.equal(await redis.hGet(a.revocations.subjectsKey, HYDRATED), '1');
    });

    it('revocations are never cached in the process: removing one from both stores reactivates at once', async () => {
      const issued = token();
      await a.record(issued);
      await a.revoke({ jti: issued.jti });
      assert.equal(await b.isActive(issued.jti, NOW), false);
      await pool.query(`DELETE FROM ${a.tables.revocations} WHERE value = $1`, [issued.jti]);
      await redis.sRem(redisKeyOf(a), `jti:${issued.jti}`);
      assert.equal(await b.isActive(issued.jti, NOW), true);
    });
  });

  describe('schema version 2 over version 1 data', () => {
    const v1 = uniquePrefix();
    after(() => dropTables(pool, v1));

    it('keeps version 1 records and subject revocations working after the migration', async () => {
      const tables = registryTables(v1);
      await runMigrations(pool, {
        component: 'broker-registry',
        ledger: migrationLedger(v1),
        migrations: registryMigrations(tables).slice(0, 1),
      });
      const old = token();
      const disabled = token();
      await pool.query(
        `INSERT INTO ${tables.tokens} (jti, parent, root, subject, client_id, audience, exp, retain_until)
         VALUES ($1, NULL, $2, $3, $4, $5, $6, $6), ($7, NULL, $8, $9, $4, $5, $6, $6)`,
        [
          old.jti,
          old.root,
          old.subject,
          old.clientId,
          old.audience,
          old.exp,
          disabled.jti,
          disabled.root,
          disabled.subject,
        ],
      );
      await pool.query(`INSERT INTO ${tables.revocations} (kind, value) VALUES ('sub', $1)`, [
        disabled.subject,
      ]);
      const registry = await PostgresRedisTokenRegistry.create({
        pool,
        redis,
        tablePrefix: v1,
        keyPrefix: `baton-test:${v1}`,
      });
      try {
        assert.deepEqual(
          await registry.find(old.jti),
          old,
          'a version 1 record reads without issuedAt or session',
        );
        assert.deepEqual(await activity(registry, [old, disabled]), [true, false]);
        assert.deepEqual(await registry.status(disabled.jti, NOW), {
          active: false,
          reason: 'subject_revoked',
        });
        assert.deepEqual(
          (await registry.listRevocations()).filter((entry) => entry.value === disabled.subject),
          [{ kind: 'subject', value: disabled.subject }],
          'a version 1 subject revocation is a disabled subject',
        );
        const { covered } = await registry.revoke({ subject: old.subject, before: NOW - 1000 }, NOW);
        assert.equal(covered, 1, 'a record without issuedAt is covered by any cut-off');
        assert.equal(await registry.isActive(old.jti, NOW), false);
        assert.equal(await registry.lift({ subject: disabled.subject }), true);
        assert.equal(await registry.isActive(disabled.jti, NOW), true);
      } finally {
        await registry.close();
        await deleteKeys(redis, `baton-test:${v1}`);
      }
    });
  });

  describe('expiry', () => {
    let registry: PostgresRedisTokenRegistry;
    before(async () => {
      registry = await PostgresRedisTokenRegistry.create({ pool, redis, ...options });
    });
    after(() => registry.close());

    it('deletes a token only once everything exchanged from it has expired, with its revocations', async () => {
      const parent = token({ exp: NOW + 10 });
      const child = token({ parent: parent.jti, root: parent.root, subject: parent.subject, exp: NOW + 100 });
      await registry.record(parent);
      await registry.record(child);
      await registry.revoke({ jti: parent.jti });

      await registry.deleteExpired(NOW + 50);
      assert.deepEqual(await registry.find(parent.jti), parent, 'kept: its child is still live');

      await registry.deleteExpired(NOW + 100);
      assert.equal(await registry.find(parent.jti), undefined);
      assert.equal(await registry.find(child.jti), undefined);
      const { rowCount } = await pool.query(`SELECT 1 FROM ${registry.tables.revocations} WHERE value = $1`, [
        parent.jti,
      ]);
      assert.equal(rowCount, 0);
      assert.equal(await redis.sIsMember(redisKeyOf(registry), `jti:${parent.jti}`), 0);
    });
  });

  describe('fails closed', () => {
    it('isActive rejects when Redis is unreachable (a URL the registry connects itself)', async () => {
      const registry = new PostgresRedisTokenRegistry({ pool, redis: UNREACHABLE_REDIS_URL, ...options });
      try {
        const issued = token();
        await registry.record(issued);
        await assert.rejects(registry.isActive(issued.jti, NOW));
        await assert.rejects(registry.revoke({ jti: issued.jti }));
      } finally {
        await registry.close();
      }
    });

    it('isActive rejects when a borrowed Redis client is closed', async () => {
      const closed = createClient({ url: UNREACHABLE_REDIS_URL });
      const registry = new PostgresRedisTokenRegistry({ pool, redis: closed, ...options });
      try {
        const issued = token();
        await registry.record(issued);
        await assert.rejects(registry.isActive(issued.jti, NOW));
      } finally {
        await registry.close();
      }
    });

    it('isActive rejects within the deadline when a borrowed client is stuck reconnecting', async () => {
      const stuck = createClient({ url: UNREACHABLE_REDIS_URL });
      stuck.on('error', () => {});
      const connecting = stuck.connect().catch(() => {});
      const registry = new PostgresRedisTokenRegistry({
        pool,
        redis: stuck,
        operationTimeoutMs: 200,
        ...options,
      });
      try {
        const issued = token();
        await registry.record(issued);
        const started = performance.now();
        await assert.rejects(registry.isActive(issued.jti, NOW), StoreTimeoutError);
        assert.ok(performance.now() - started < 1000);
      } finally {
        await registry.close();
        stuck.destroy();
        await connecting;
      }
    });

    it('create() rejects when Redis is unreachable', async () => {
      await assert.rejects(
        PostgresRedisTokenRegistry.create({
          pool,
          redis: UNREACHABLE_REDIS_URL,
          operationTimeoutMs: 300,
          ...options,
        }),
      );
    });

    it('isActive rejects when PostgreSQL is unreachable', async () => {
      const registry = new PostgresRedisTokenRegistry({ pool: UNREACHABLE_POSTGRES_URL, redis, ...options });
      try {
        await assert.rejects(registry.isActive(randomUUID(), NOW));
        await assert.rejects(registry.record(token()));
      } finally {
        await registry.close();
      }
    });
  });

  describe('misuse', () => {
    it('the constructor refuses bad options with a TypeError', () => {
      assert.throws(() => new PostgresRedisTokenRegistry(undefined as never), TypeError);
      assert.throws(() => new PostgresRedisTokenRegistry({ pool: 42 as never, redis }), TypeError);
      assert.throws(() => new PostgresRedisTokenRegistry({ pool, redis: {} as never }), TypeError);
      assert.throws(
        () => new PostgresRedisTokenRegistry({ pool, redis, tablePrefix: 'x; DROP TABLE y' }),
        TypeError,
      );
      assert.throws(() => new PostgresRedisTokenRegistry({ pool, redis, keyPrefix: '' }), TypeError);
      assert.throws(() => new PostgresRedisTokenRegistry({ pool, redis, operationTimeoutMs: 0 }), TypeError);
    });

    it('revoke and record refuse malformed input with a TypeError', async () => {
      const registry = new PostgresRedisTokenRegistry({ pool, redis, ...options });
      await assert.rejects(registry.revoke({} as never), TypeError);
      await assert.rejects(registry.revoke({ jti: 'a', root: 'b' } as never), TypeError);
      await assert.rejects(registry.revoke({ subject: '' }), TypeError);
      await assert.rejects(registry.revoke({ jti: 'a', before: 1 } as never), TypeError);
      await assert.rejects(registry.revoke({ subject: 'a', before: 1.5 }), TypeError);
      await assert.rejects(registry.lift({ jti: 'a' } as never), TypeError);
      await assert.rejects(registry.record({ ...token(), exp: 1.5 }), TypeError);
      await assert.rejects(registry.record({ ...token(), jti: '' }), TypeError);
      await assert.rejects(registry.record({ ...token(), issuedAt: 1.5 }), TypeError);
      await registry.close();
    });
  });
});
