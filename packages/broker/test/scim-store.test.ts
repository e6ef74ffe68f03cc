import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryScimStore, type ScimStore, ScimUniquenessConflict, SqlScimStore } from '../src/index.ts';
import { type EmbeddedDatabase, openEmbeddedDatabase } from '../src/stores/embedded-database.ts';
import { dropTables, openPool, uniquePrefix } from './stores/servers.ts';

/** One conformance suite for every SCIM store: what the SCIM service relies on. */
function scimStoreSuite(name: string, open: () => Promise<{ store: ScimStore; close(): Promise<void> }>) {
  describe(`SCIM store: ${name}`, () => {
    let store: ScimStore;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await open());
    });
    after(() => close());

    it('creates, reads and lists resources per type', async () => {
      const user = await store.create('User', { userName: 'alice', externalId: 'user-alice', active: true });
      assert.equal(user.version, 1);
      assert.deepEqual((await store.get('User', user.id))?.attributes, {
        userName: 'alice',
        externalId: 'user-alice',
        active: true,
      });
      assert.equal(await store.get('Group', user.id), undefined);
      assert.ok((await store.list('User')).some((record) => record.id === user.id));
    });

    it('refuses a userName taken in another case, and a taken externalId', async () => {
      await store.create('User', { userName: 'Bob', externalId: 'user-bob' });
      await assert.rejects(
        store.create('User', { userName: 'bob', externalId: 'user-bob-2' }),
        (error) => error instanceof ScimUniquenessConflict && error.attribute === 'userName',
      );
      await assert.rejects(
        store.create('User', { userName: 'robert', externalId: 'user-bob' }),
        (error) => error instanceof ScimUniquenessConflict && error.attribute === 'externalId',
      );
    });

    it('replaces and deletes only the version it read (a concurrent writer wins, nothing is lost)', async () => {
      const group = await store.create('Group', { displayName: 'g', members: [] });
      const replaced = await store.replace('Group', group.id, { displayName: 'g2', members: [] }, 1);
      assert.equal(replaced?.version, 2);
      assert.equal(await store.replace('Group', group.id, { displayName: 'stale' }, 1), undefined);
      assert.equal(await store.delete('Group', group.id, 1), false);
      assert.equal((await store.get('Group', group.id))?.attributes.displayName, 'g2');
      assert.equal(await store.delete('Group', group.id, 2), true);
      assert.equal(await store.get('Group', group.id), undefined);
    });
  });
}

scimStoreSuite('memory', async () => ({ store: new MemoryScimStore(), close: async () => {} }));

scimStoreSuite('PostgreSQL', async () => {
  const pool = openPool();
  const prefix = uniquePrefix();
  const store = await SqlScimStore.create({ pool, tablePrefix: prefix });
  return {
    store,
    async close() {
      await dropTables(pool, prefix);
      await pool.end();
    },
  };
});

scimStoreSuite('embedded (PGlite)', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'baton-scim-'));
  const database: EmbeddedDatabase = await openEmbeddedDatabase(directory);
  const store = await SqlScimStore.create({ pool: database.connection });
  return {
    store,
    async close() {
      await database.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
