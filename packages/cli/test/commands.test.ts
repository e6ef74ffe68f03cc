import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { auditEvent } from '@baton/audit';
import { FileAuditStore } from '@baton/audit-store';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

function baton(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, BATON_AUDIT_STORE: '', ...env },
    timeout: 30_000,
  });
}

function event(sub: string) {
  return auditEvent({
    action: 'tool.invoke',
    component: 'http://127.0.0.1:4001/mcp',
    trace_id: `trace-${sub}`,
    initiator: { sub, tenant: 'acme' },
    agent: { id: 'agent-1', client_id: 'agent-1' },
    target: { type: 'tool', name: 'list_orders' },
    delegation_mode: 'on_behalf_of',
    scopes: ['orders:read'],
    outcome: 'ok',
    duration_ms: 1,
    span_id: `span-${sub}`,
  });
}

describe('baton --version and --help', () => {
  it('--version prints the package version', () => {
    for (const flag of ['--version', '-V']) {
      const run = baton([flag]);
      assert.equal(run.status, 0);
      assert.equal(run.stdout, `baton ${VERSION}\n`);
    }
  });

  it('--help answers for every command and subcommand, on standard output, exit 0', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--help'], /^usage: baton <command>/],
      [['audit', '--help'], /baton audit trace <trace-id>/],
      [['audit', 'trace', '--help'], /^usage: baton audit trace <trace-id>/],
      [['audit', 'list', '--help'], /^usage: baton audit list/],
      [['audit', 'export', '--help'], /--output FILE/],
      [['audit', 'verify', '-h'], /^usage: baton audit verify \[WRITER\]/],
      [['console', '--help'], /^usage:\n {2}baton console --issuer URL/],
    ];
    for (const [args, expected] of cases) {
      const run = baton(args);
      assert.equal(run.status, 0, args.join(' '));
      assert.match(run.stdout, expected, args.join(' '));
      assert.equal(run.stderr, '', args.join(' '));
    }
  });

  it('an unknown command or subcommand is a usage error (exit 2, on standard error)', () => {
    for (const args of [['frobnicate'], ['audit', 'frobnicate', '--help']]) {
      const run = baton(args);
      assert.equal(run.status, 2, args.join(' '));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /unknown (sub)?command frobnicate/);
    }
  });
});

describe('baton audit verify and export', () => {
  let directory: string;
  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'baton-cli-commands-'));
    const store = await FileAuditStore.open({ directory: join(directory, 'audit') });
    for (const sub of ['alice', 'bob']) await store.write(event(sub));
    await store.close();
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('verify with no log there says where it looked and exits 2, not "TAMPERED: 0 events"', () => {
    for (const args of [
      ['audit', 'verify', '--store', join(directory, 'nowhere')],
      ['audit', 'verify'],
    ]) {
      const run = spawnSync(process.execPath, [MAIN, ...args], {
        encoding: 'utf8',
        cwd: directory,
        env: { ...process.env, BATON_AUDIT_STORE: '' },
        timeout: 30_000,
      });
      assert.equal(run.status, 2, args.join(' '));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^no audit log for writer "default" in /);
      assert.doesNotMatch(run.stderr, /TAMPERED/);
    }
  });

  it('verify of an intact log is ok (0); a log deleted beside its checkpoint keys is TAMPERED (1)', () => {
    const ok = baton(['audit', 'verify', '--store', join(directory, 'audit')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: 2 events/m);

    const deleted = mkdtempSync(join(directory, 'deleted-'));
    const copy = spawnSync('cp', ['-p', join(directory, 'audit', 'default.checkpoint-keys.json'), deleted]);
    assert.equal(copy.status, 0);
    const tampered = baton(['audit', 'verify', '--store', deleted]);
    assert.equal(tampered.status, 1);
    assert.match(tampered.stdout, /^deleted {2}.*does not exist$/m);
    assert.match(tampered.stdout, /^TAMPERED: 0 events/m);
  });

  it('export --output writes only JSON lines to a new owner-only file, and never over an existing one', () => {
    const file = join(directory, 'export.jsonl');
    const run = baton(['audit', 'export', '--store', join(directory, 'audit'), '--output', file]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).initiator.sub),
      ['alice', 'bob'],
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const again = baton(['audit', 'export', '--store', join(directory, 'audit'), '--output', file]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /EEXIST/);
    assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, 2, 'the first export is intact');
    unlinkSync(file);
  });

  it('`npm run baton -- audit export --output FILE` (the documented form) writes no npm banner into the export', () => {
    const file = join(directory, 'npm-export.jsonl');
    const run = spawnSync(
      'npm',
      ['run', 'baton', '--', 'audit', 'export', '--store', join(directory, 'audit'), '--output', file],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const text = readFileSync(file, 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 2);
    for (const line of text.split('\n').filter(Boolean)) JSON.parse(line);
    assert.doesNotMatch(text, /^> /m);
  });

  it('export to standard output under `npm run` without --silent says how to get a clean export', () => {
    const loud = spawnSync(
      'npm',
      ['run', 'baton', '--', 'audit', 'export', '--store', join(directory, 'audit')],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(loud.status, 0, loud.stderr);
    assert.match(loud.stderr, /use --output FILE or `npm run --silent baton/);
    const quiet = spawnSync(
      'npm',
      ['run', '--silent', 'baton', '--', 'audit', 'export', '--store', join(directory, 'audit')],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    const lines = quiet.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).initiator.sub),
      ['alice', 'bob'],
    );
  });
});

describe('baton console shutdown', () => {
  it('SIGTERM: stops serving, logs each step, exits 0', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'baton-cli-console-stop-'));
    try {
      const child = spawn(
        process.execPath,
        [MAIN, 'console', '--unauthenticated-behind-trusted-proxy', '--store', directory, '--port', '0'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const url = await new Promise<string>((resolve) =>
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          const found = /audit console (\S+)/.exec(stdout);
          if (found) resolve(found[1]!);
        }),
      );
      assert.equal((await fetch(new URL('/healthz', url))).status, 200);
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const steps = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line))
        .filter((line) => line.msg === 'shutdown step done')
        .map((line) => line.step);
      assert.deepEqual(steps, ['http', 'stores']);
      await assert.rejects(fetch(new URL('/healthz', url)));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
