import { FileAuditStore, PostgresAuditStore } from '../src/index.ts';
import { sinkReaderConformance } from './helpers/conformance.ts';
import { postgresTestRun } from './helpers/postgres.ts';

const { pool, tablePrefix, directory } = postgresTestRun('conf');

sinkReaderConformance('FileAuditStore', async () => {
  const store = await FileAuditStore.open({ directory: directory('conf-file'), checkpointEvery: 7 });
  return { store, close: () => store.close() };
});

for (const failurePolicy of ['fail-closed', 'buffer'] as const) {
  sinkReaderConformance(`PostgresAuditStore (${failurePolicy})`, async () => {
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix: tablePrefix(),
      outboxDirectory: directory('conf-pg'),
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
