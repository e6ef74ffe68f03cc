import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDemoOnce } from './fixtures/run-demo.ts';

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
    const [header = '', alice = '', bob = ''] = stdout.split('── ');
    assert.match(header, /audit console +http:\/\/127\.0\.0\.1:\d+/);
    assert.match(
      stdout,
      /traces of the demo[\s\S]*\n {2}[0-9a-f]{32} {2}user-alice +order_summary +http:\/\/127\.0\.0\.1:\d+\/traces\/[0-9a-f]{32}/,
    );
    assert.match(header, /token broker +http:\/\/127\.0\.0\.1:\d+/);
    assert.match(header, /orders MCP server authenticated to the broker with private_key_jwt/);
    assert.match(alice, /RFC 9728 metadata names authorization server/);
    assert.match(alice, /registered with RFC 7591 as client/);
    assert.match(alice, /authorization code \+ PKCE \(S256\) for resource http:\/\/127\.0\.0\.1:\d+\/mcp/);
    assert.match(alice, /✓ list_orders: .*A-1001/);
    assert.doesNotMatch(alice, /B-2001|INV-90/);
    assert.match(alice, /✓ create_order/);
    assert.match(
      alice,
      /✓ order_summary: .*INV-77.*INV-78/,
      'the invoices came through billing MCP and the billing API',
    );
    // One question, one trace: orders MCP → broker → billing MCP → broker → billing API.
    const summaryTrace = /tool=order_summary .*trace=([0-9a-f]{8})/.exec(alice)?.[1];
    assert.ok(summaryTrace);
    const hops = alice.split('\n').filter((line) => line.includes(`trace=${summaryTrace}`));
    assert.ok(
      hops.some((line) =>
        /token\.exchange .*audience=http:\/\/127\.0\.0\.1:\d+\/api .*chain=billing-mcp>orders-mcp>/.test(
          line,
        ),
      ),
    );
    assert.ok(
      hops.some((line) =>
        /api\.call .*api=GET \/api\/invoices user=user-alice .*mode=on_behalf_of chain=billing-mcp>orders-mcp>/.test(
          line,
        ),
      ),
    );
    assert.ok(hops.some((line) => /tool=list_invoices user=user-alice .*chain=orders-mcp>/.test(line)));
    assert.match(bob, /✓ list_orders: .*B-2001/);
    assert.doesNotMatch(bob, /A-100|INV-7/);
    assert.match(bob, /✗ create_order: step-up required: scope "orders:read orders:write"/);
    assert.match(
      bob,
      /✓ order_summary: .*ERR_DOWNSTREAM_TOKEN_REFUSED/,
      'bob holds no billing:read: the broker refuses',
    );
    assert.match(bob, /token\.exchange .*user=user-bob .*reason=scope_wider_than_subject/);
    const agents = [...stdout.matchAll(/registered with RFC 7591 as client (\S+)/g)].map((match) => match[1]);
    assert.equal(new Set(agents).size, 2);
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
