import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDemoOnce } from './fixtures/run-demo.ts';
import { assertWalkThrough } from './fixtures/walk-through.ts';

const CLI = fileURLToPath(new URL('../../../packages/cli/src/main.ts', import.meta.url));

async function runDemo(dataDir?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (dataDir) return runDemoIn(dataDir);
  const temporary = mkdtempSync(join(tmpdir(), 'baton-demo-test-'));
  try {
    return await runDemoIn(temporary);
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
}

function runDemoIn(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runDemoOnce({ BATON_DATA_DIR: dataDir });
}

describe('npm start walk-through', () => {
  it('runs the whole lifecycle for alice and bob, each seeing only their own data, across every hop', async () => {
    const { code, stdout, stderr } = await runDemo();
    assert.equal(code, 0, stderr);
    assertWalkThrough(stdout);
  });

  it('prints no token and no runtime warning', async () => {
    const { stdout, stderr } = await runDemo();
    const output = stdout + stderr;
    assert.doesNotMatch(output, /eyJ[A-Za-z0-9_-]{10,}\./, 'a JWT appeared in the output');
    assert.doesNotMatch(output, /warning|deprecat|unsupported/i);
    assert.equal(stderr, '');
  });

  it('keeps a durable, verifiable audit that the command line reconstructs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-demo-audit-'));
    try {
      const { code, stdout } = await runDemo(dataDir);
      assert.equal(code, 0);
      const traceId = /\n {2}([0-9a-f]{32}) {2}user-alice +order_summary/.exec(stdout)?.[1];
      assert.ok(traceId);
      const store = join(dataDir, 'audit');
      const verified = execFileSync(process.execPath, [CLI, 'audit', 'verify', 'demo', '--store', store], {
        encoding: 'utf8',
      });
      assert.match(verified, /^ok: \d+ events, \d+ signed checkpoints/m);
      const tree = execFileSync(process.execPath, [CLI, 'audit', 'trace', traceId, '--store', store], {
        encoding: 'utf8',
      });
      assert.match(tree, /└─ tool order_summary at http:\/\/127\.0\.0\.1:\d+\/mcp/);
      assert.match(
        tree,
        /call GET \/api\/invoices at .*\[on_behalf_of\] {2}ok .*chain billing-mcp > orders-mcp > /,
      );
      const denied = execFileSync(
        process.execPath,
        [CLI, 'audit', 'list', '--outcome', 'denied', '--store', store],
        { encoding: 'utf8' },
      );
      assert.match(denied, /denied +tool\.invoke +create_order +user=user-bob/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
