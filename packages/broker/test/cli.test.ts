import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brokerConfigDirectory, BROKER_CLI as CLI } from './fixtures/cli-config.ts';

function run(args: string[], env: Record<string, string> = {}, until?: RegExp) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (until?.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('baton-broker command line', () => {
  let dir: string;
  let config: string;
  before(async () => {
    ({ dir, config } = await brokerConfigDirectory('baton-broker-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses to start without an initial access token, saying how to give one', async () => {
    const { code, output } = await run(['--config', config]);
    assert.equal(code, 1);
    assert.match(output, /BATON_BROKER_INITIAL_ACCESS_TOKEN/);
  });

  it('starts from the file plus environment, creating an owner-only signing key file', async () => {
    const { output } = await run(
      ['--config', config],
      { BATON_BROKER_INITIAL_ACCESS_TOKEN: 'a-long-enough-initial-token' },
      /broker ready/,
    );
    const ready = output
      .split('\n')
      .map((line) => (line.startsWith('{') ? JSON.parse(line) : {}))
      .find((line) => line.msg === 'broker ready');
    assert.match(ready?.issuer ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready?.store, 'embedded');
    const keys = join(dir, 'broker-signing-keys.json');
    assert.equal((await stat(keys)).mode & 0o777, 0o600);
    assert.equal(output.includes('a-long-enough-initial-token'), false, 'the secret is not logged');
  });

  it('rotates the signing key and keeps the previous one for verification', async () => {
    const keysFile = join(dir, 'broker-signing-keys.json');
    const before = JSON.parse(await readFile(keysFile, 'utf8')).keys as Array<{ kid: string }>;
    const { code } = await run(['rotate-key', '--config', config], {
      BATON_BROKER_INITIAL_ACCESS_TOKEN: 'a-long-enough-initial-token',
    });
    assert.equal(code, 0);
    const after = JSON.parse(await readFile(keysFile, 'utf8')).keys as Array<{ kid: string }>;
    assert.equal(after.length, before.length + 1);
    assert.equal(after[1]!.kid, before[0]!.kid);
  });

  it('refuses a second broker process on the same embedded store directory, saying why', async () => {
    const env = { ...process.env, BATON_BROKER_INITIAL_ACCESS_TOKEN: 'a-long-enough-initial-token' };
    const first = spawn(process.execPath, [CLI, '--config', config], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => first.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`first broker did not start:\n${output}`)), 20_000);
        first.stdout.on('data', (chunk: Buffer) => {
          output += chunk;
          if (output.includes('"broker ready"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const second = await run(['--config', config], {
        BATON_BROKER_INITIAL_ACCESS_TOKEN: 'a-long-enough-initial-token',
      });
      assert.equal(second.code, 1);
      assert.match(
        second.output,
        new RegExp(`already open by process ${first.pid}; one broker per data directory`),
      );
    } finally {
      first.kill('SIGTERM');
      await exited;
    }
  });

  it('reports every configuration problem with its path', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, JSON.stringify({ port: 'x', audiences: [], policy: {} }));
    const { code, output } = await run(['--config', broken]);
    assert.equal(code, 1);
    for (const path of ['port', 'trustedIssuers', 'audiences', 'policy.file'])
      assert.ok(output.includes(path), path);
  });
});
