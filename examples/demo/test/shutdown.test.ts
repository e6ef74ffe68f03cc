import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FREE_PORTS } from './fixtures/run-demo.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../packages/cli/src/main.ts', import.meta.url));

it('`npm start` under a process manager: SIGTERM stops every server, seals the audit log, leaves no process', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-demo-shutdown-'));
  try {
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, ...FREE_PORTS, BATON_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    npm.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const killer = setTimeout(() => npm.kill('SIGKILL'), 90_000);
    // 'close': every process holding the output pipes has exited, the demo's node process included.
    const closed = new Promise<number | null>((resolve) => npm.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      npm.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (/^Ready\. /m.test(stdout)) resolve();
      });
      npm.on('exit', () => reject(new Error(`the demo exited before it was ready: ${stdout}${stderr}`)));
    });
    const mcp = /^orders MCP server {3}(\S+)$/m.exec(stdout)![1]!;
    // At once: the demo listens for the signal before it prints that it is ready.
    npm.kill('SIGTERM');
    const code = await closed;
    clearTimeout(killer);
    assert.equal(code, 0, `${stdout.slice(stdout.indexOf('Ready. '))}${stderr}`);

    for (const step of ['audit console', 'services', 'audit']) {
      assert.match(stdout, new RegExp(`\\[shutdown\\] info shutdown step done \\(step=${step}\\)`));
    }
    assert.match(stdout, /\[shutdown\] info shutdown complete/);
    await assert.rejects(fetch(mcp), 'the orders MCP server no longer listens');
    // The audit store wrote its final checkpoint and released its lock: the log verifies.
    const verify = spawnSync(
      process.execPath,
      [CLI, 'audit', 'verify', 'demo', '--store', join(dataDir, 'audit')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^ok: \d+ events/m);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
