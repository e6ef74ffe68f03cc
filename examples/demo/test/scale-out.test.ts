import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { SCALE_OUT_WRITERS } from '../src/demo-audit.ts';
import { FREE_PORTS, runDemoOnce } from './fixtures/run-demo.ts';
import { assertWalkThrough } from './fixtures/walk-through.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../packages/cli/src/main.ts', import.meta.url));
const SERVER = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Each run gets its own database on the shared PostgreSQL (the demo creates it; the audit CLI reads the
 * default table names there) and its own Redis key prefix, and removes both afterwards.
 */
function isolatedStores() {
  const suffix = randomBytes(6).toString('hex');
  const database = new URL(SERVER);
  database.pathname = `/baton_scale_${suffix}`;
  return { postgresUrl: database.href, keyPrefix: `baton-scale-${suffix}:` };
}

const runs: Array<ReturnType<typeof isolatedStores> & { dataDir: string }> = [];
function newRun() {
  const run = { ...isolatedStores(), dataDir: mkdtempSync(join(tmpdir(), 'baton-scale-out-')) };
  runs.push(run);
  return run;
}
function scaleOutEnv(run: ReturnType<typeof newRun>): Record<string, string> {
  return {
    BATON_SCALE_OUT: '1',
    BATON_DATA_DIR: run.dataDir,
    BATON_POSTGRES_URL: run.postgresUrl,
    BATON_REDIS_URL: REDIS_URL,
    BATON_REDIS_KEY_PREFIX: run.keyPrefix,
  };
}

function baton(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

after(async () => {
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  const redis = createClient({ url: REDIS_URL });
  redis.on('error', () => {});
  await redis.connect();
  try {
    for (const run of runs) {
      const name = decodeURIComponent(new URL(run.postgresUrl).pathname.slice(1));
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      for await (const keys of redis.scanIterator({ MATCH: `${run.keyPrefix}*` })) {
        if (keys.length > 0) await redis.del(keys);
      }
      rmSync(run.dataDir, { recursive: true, force: true });
    }
  } finally {
    await admin.end();
    await redis.close();
  }
});

describe('BATON_SCALE_OUT=1 npm start: two brokers and two orders MCP servers on PostgreSQL + Redis', () => {
  it('passes the same walk-through, with requests reaching every instance and one intact audit trail', async () => {
    const run = newRun();
    const { code, stdout, stderr } = await runDemoOnce(scaleOutEnv(run));
    assert.equal(code, 0, stderr || stdout);
    assert.equal(stderr, '');
    assertWalkThrough(stdout);
    assert.doesNotMatch(stdout, /eyJ[A-Za-z0-9_-]{10,}\./, 'a JWT appeared in the output');

    // The load balancers' own count: round robin sent requests to both instances of each pair.
    const counts =
      /load balancers \(requests per instance\): token broker (\d+) \+ (\d+), orders MCP server (\d+) \+ (\d+)/.exec(
        stdout,
      );
    assert.ok(counts, stdout);
    for (const count of counts.slice(1)) assert.ok(Number(count) > 0, counts[0]);

    // The audit trail says the same independently: each instance wrote its own chain, every chain has
    // events and verifies (final signed checkpoint included), and the brokers' state is in PostgreSQL.
    for (const writer of SCALE_OUT_WRITERS) {
      const verified = baton(['audit', 'verify', writer, '--postgres', run.postgresUrl]);
      assert.equal(verified.status, 0, `${writer}: ${verified.stdout}${verified.stderr}`);
      const events = Number(/^ok: (\d+) events, [1-9]\d* signed checkpoints/m.exec(verified.stdout)?.[1]);
      assert.ok(events > 0, `${writer} wrote no event: ${verified.stdout}`);
    }
    const pool = new pg.Pool({ connectionString: run.postgresUrl });
    try {
      const byWriter = await pool.query<{ writer: string; action: string }>(
        `SELECT DISTINCT writer, event->>'action' AS action FROM baton_audit_events`,
      );
      const did = (writer: string, action: string) =>
        byWriter.rows.some((row) => row.writer === writer && row.action === action);
      for (const writer of ['orders-mcp-1', 'orders-mcp-2']) {
        assert.ok(did(writer, 'tool.invoke'), `${writer} served no tool call`);
      }
      for (const writer of ['broker-1', 'broker-2']) {
        assert.ok(did(writer, 'token.exchange'), `${writer} issued no token`);
      }
      const issued = await pool.query<{ count: string }>('SELECT count(*) FROM baton_issued_tokens');
      assert.ok(Number(issued.rows[0]!.count) > 0, 'the brokers recorded their tokens in PostgreSQL');
    } finally {
      await pool.end();
    }

    // The brokers' configuration file names where their stores are, never with credentials (those
    // came through the environment).
    const brokerConfig = readFileSync(join(run.dataDir, 'broker', 'broker.json'), 'utf8');
    assert.match(brokerConfig, /"postgresUrl": "postgres:\/\/127\.0\.0\.1:5432\/baton_scale_/);
    assert.doesNotMatch(brokerConfig, /:\/\/[^/"]*@|initialAccessToken/);

    // One question, one trace, across writers: the command line puts the hops back together.
    const traceId = /\n {2}([0-9a-f]{32}) {2}user-alice +order_summary/.exec(stdout)?.[1];
    assert.ok(traceId);
    const tree = baton(['audit', 'trace', traceId, '--postgres', run.postgresUrl]);
    assert.equal(tree.status, 0, tree.stderr);
    assert.match(tree.stdout, /└─ tool order_summary at http:\/\/127\.0\.0\.1:\d+\/mcp/);
    assert.match(
      tree.stdout,
      /token exchange → https?:\/\/127\.0\.0\.1:\d+\/api at https?:\/\/127\.0\.0\.1:\d+ /,
    );
    assert.match(
      tree.stdout,
      /call GET \/api\/invoices at .*\[on_behalf_of\] {2}ok .*chain billing-mcp > orders-mcp > /,
    );
    const denied = baton(['audit', 'list', '--outcome', 'denied', '--postgres', run.postgresUrl]);
    assert.match(denied.stdout, /denied +tool\.invoke +create_order +user=user-bob/);
  });

  it('under a process manager: SIGTERM stops every instance, seals every chain, leaves no process', async () => {
    const run = newRun();
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, ...FREE_PORTS, ...scaleOutEnv(run) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    npm.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const killer = setTimeout(() => npm.kill('SIGKILL'), 90_000);
    // 'close': every process holding the output pipes has exited, the broker processes included.
    const closed = new Promise<number | null>((resolve) => npm.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      npm.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (/^Ready\. /m.test(stdout)) resolve();
      });
      npm.on('exit', () => reject(new Error(`the demo exited before it was ready: ${stdout}${stderr}`)));
    });
    const brokers = /^ {2}load balancer in front of (\S+), (\S+) \(PostgreSQL/m.exec(stdout)!.slice(1);
    const mcpInstances = /^ {2}load balancer in front of (\S+), (\S+) \(one envelope key/m
      .exec(stdout)!
      .slice(1);
    const publicUrls = [/^orders MCP server {3}(\S+)$/m, /^token broker {8}(\S+) /m].map(
      (line) => line.exec(stdout)![1]!,
    );
    npm.kill('SIGTERM');
    const code = await closed;
    clearTimeout(killer);
    assert.equal(code, 0, `${stdout.slice(stdout.indexOf('Ready. '))}${stderr}`);
    for (const instance of ['broker-1', 'broker-2']) {
      assert.match(stdout, new RegExp(`\\[${instance}\\] info shutdown complete`));
    }
    assert.match(stdout, /\[shutdown\] info shutdown complete/);
    for (const url of [...publicUrls, ...brokers, ...mcpInstances]) {
      await assert.rejects(fetch(url), `${url} no longer listens`);
    }
    for (const writer of SCALE_OUT_WRITERS) {
      const verified = baton(['audit', 'verify', writer, '--postgres', run.postgresUrl]);
      assert.equal(verified.status, 0, `${writer}: ${verified.stdout}${verified.stderr}`);
    }
  });
  it('a SIGTERM or SIGINT during the walk-through (before the shutdown handling) leaves no broker running', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const run = newRun();
      // Not through npm: the signal goes to the demo itself, as Ctrl-C does to the foreground process.
      const demo = spawn(process.execPath, ['examples/demo/src/main.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...FREE_PORTS,
          ...scaleOutEnv(run),
          NODE_OPTIONS: '--conditions=@baton/source',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      demo.stderr.resume();
      const exited = new Promise<void>((resolve) => demo.on('exit', () => resolve()));
      // 'close': every process holding the output pipes (the brokers inherit stderr) has exited.
      const closed = new Promise<boolean>((resolve) => demo.on('close', () => resolve(true)));
      await new Promise<void>((resolve, reject) => {
        demo.stdout.on('data', (chunk) => {
          stdout += chunk;
          if (/^── /m.test(stdout)) resolve();
        });
        demo.on('exit', () => reject(new Error(`the demo exited before the walk-through: ${stdout}`)));
      });
      const brokers = /^ {2}load balancer in front of (\S+), (\S+) \(PostgreSQL/m.exec(stdout)!.slice(1);
      assert.equal(/^Ready\. /m.test(stdout), false, 'signalled before the demo registered its shutdown');
      demo.kill(signal);
      await exited;
      const allClosed = await Promise.race([
        closed,
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
      ]);
      assert.equal(allClosed, true, `${signal}: a broker process still holds the demo's stderr`);
      for (const url of brokers)
        await assert.rejects(fetch(url), `${signal}: broker ${url} no longer listens`);
    }
  });
});
