import { join } from 'node:path';
import { type AuditReader, type AuditSink, fanOut } from '@baton/audit';
import { AuditStoreError, FileAuditStore, PostgresAuditStore, postgresAuditReader } from '@baton/audit-store';
import pg from 'pg';
import type { ScaleOutConfig } from './config.ts';

/**
 * Every process of a scaled-out deployment writes its own hash chain (one writer each); the demo runs
 * these in one process but keeps them apart as a deployment would.
 */
export const SCALE_OUT_WRITERS = ['demo', 'orders-mcp-1', 'orders-mcp-2', 'broker-1', 'broker-2'] as const;

/** The demo's durable audit trail, and the sinks its components write to. */
export interface DemoAudit {
  /** Where the trail is kept, for people (never a password). */
  where: string;
  /** The audit sink of one writer (a process, in a deployment), with `alsoTo` added. */
  writer(name: string): AuditSink;
  reader: AuditReader;
  /** Writes each chain's final signed checkpoint and releases the stores. */
  close(): Promise<void>;
}

/**
 * One process: the embedded store in `<dataDir>/audit`, one writer (`demo`). Scaled out: the PostgreSQL
 * audit store, one writer per instance, each behind its own outbox in `<dataDir>/audit-outbox` (what
 * several hosts do, where no directory is shared); `baton audit verify <writer> --postgres URL` checks each.
 */
export async function openDemoAudit(
  dataDir: string,
  scaleOut: ScaleOutConfig | undefined,
  alsoTo: AuditSink[],
): Promise<DemoAudit> {
  if (!scaleOut) {
    const store = await FileAuditStore.open({ directory: join(dataDir, 'audit'), writer: 'demo' });
    const sink = fanOut(store, ...alsoTo);
    return { where: join(dataDir, 'audit'), writer: () => sink, reader: store, close: () => store.close() };
  }
  const pool = await openDatabase(scaleOut.postgresUrl);
  const stores = new Map<string, PostgresAuditStore>();
  try {
    for (const writer of SCALE_OUT_WRITERS) {
      stores.set(
        writer,
        await PostgresAuditStore.open({ pool, outboxDirectory: join(dataDir, 'audit-outbox'), writer }),
      );
    }
  } catch (error) {
    for (const store of stores.values()) await store.close();
    await pool.end();
    if (error instanceof AuditStoreError && error.code === 'ERR_AUDIT_STORE_WRITER_CONFLICT') {
      throw new Error(
        `the audit chains in ${scaleOut.postgresUrl.replace(/\/\/[^@/]*@/, '//')} were written from another ${join(dataDir, 'audit-outbox')}: ` +
          'restore that directory, or start over with a new database (BATON_POSTGRES_URL)',
        { cause: error },
      );
    }
    throw error;
  }
  const sinks = new Map([...stores].map(([writer, store]) => [writer, fanOut(store, ...alsoTo)]));
  const url = new URL(scaleOut.postgresUrl);
  return {
    where: `PostgreSQL ${url.host}${url.pathname}`,
    writer(name) {
      const sink = sinks.get(name);
      if (!sink) throw new TypeError(`no audit writer ${name}`);
      return sink;
    },
    reader: postgresAuditReader(pool),
    async close() {
      for (const store of stores.values()) await store.close();
      await pool.end();
    },
  };
}

/** A pool on `url`'s database, which is created first if it does not exist yet (a demo convenience). */
async function openDatabase(url: string): Promise<pg.Pool> {
  const open = () => {
    const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000 });
    // A dropped idle connection must not crash the demo; the next query reconnects.
    pool.on('error', () => {});
    return pool;
  };
  const pool = open();
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (error) {
    await pool.end();
    if ((error as { code?: string }).code !== '3D000') throw error; // invalid_catalog_name
  }
  const maintenance = new URL(url);
  const name = decodeURIComponent(maintenance.pathname.slice(1));
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.href });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') throw error; // created meanwhile
  } finally {
    await client.end();
  }
  return open();
}
