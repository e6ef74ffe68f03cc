import { after } from 'node:test';
import { FileAuditStore, PostgresAuditStore } from '../src/index.ts';
import { sinkReaderConformance } from './helpers/conformance.ts';
import { dropTables, postgresPool, tempDirectory, uniquePrefix } from './helpers/postgres.ts';

const pool = postgresPool();
const prefix = uniquePrefix('conf');
const directories: Array<{ remove(): void }> = [];
after(async () => {
  await dropTables(pool, prefix);
  await pool.end();
  for (const directory of directories) directory.remove();
});

sinkReaderConformance('FileAuditStore', async () => {
  const directory = tempDirectory('conf-file');
  directories.push(directory);
  const store = await FileAuditStore.open({ directory: directory.path, checkpointEvery: 7 });
  return { store, close: () => store.close() };
});

for (const failurePolicy of ['fail-closed', 'buffer'] as const) {
  sinkReaderConformance(`PostgresAuditStore (${failurePolicy})`, async () => {
    const directory = tempDirectory('conf-pg');
    directories.push(directory);
    const tablePrefix = `${prefix}${failurePolicy === 'buffer' ? 'b' : 'f'}_`;
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix,
      outboxDirectory: directory.path,
      writer: 'conformance',
      failurePolicy,
      checkpointEvery: 7,
    });
    return {
      // With `buffer`, a write resolves before PostgreSQL has it; reading your own writes needs a drain.
      store: {
        write: (event) => store.write(event),
        query: async (query) => {
          await store.drain();
          return store.query(query);
        },
      },
      close: () => store.close(),
    };
  });
}
