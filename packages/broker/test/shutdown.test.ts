import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brokerConfigDirectory, BROKER_CLI as CLI } from './fixtures/cli-config.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENV = { BATON_BROKER_INITIAL_ACCESS_TOKEN: 'a-long-enough-initial-token' };

/** A running broker process: its log lines (JSON), and a wait for a line or for the exit. */
function watch(child: ChildProcess) {
  const lines: Array<Record<string, unknown>> = [];
  const other: string[] = [];
  const waiters: Array<() => void> = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) {
        if (part.startsWith('{')) lines.push(JSON.parse(part));
        else other.push(part);
      }
      for (const waiter of waiters.splice(0)) waiter();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Every process holding the output pipes is gone (a grandchild may hold them after the child exits).
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void exited.then(() => clearTimeout(killer));
  return {
    lines,
    other,
    exited,
    closed,
    async line(msg: string): Promise<Record<string, unknown>> {
      for (;;) {
        const found = lines.find((line) => line.msg === msg);
        if (found) return found;
        if (
          (await Promise.race([
            exited.then(() => 'exit'),
            new Promise((r) => waiters.push(() => r('data'))),
          ])) === 'exit'
        ) {
          const again = lines.find((line) => line.msg === msg);
          if (again) return again;
          throw new Error(`exited before logging "${msg}": ${JSON.stringify(lines)}`);
        }
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('baton-broker shutdown on SIGTERM', () => {
  let dir: string;
  let config: string;
  before(async () => {
    ({ dir, config } = await brokerConfigDirectory('baton-broker-shutdown-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('finishes a request in flight, refuses new connections, logs each step and exits 0', async () => {
    const child = spawn(process.execPath, [CLI, '--config', config], {
      env: { ...process.env, ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const broker = watch(child);
    const ready = await broker.line('broker ready');
    const url = new URL(String(ready.url));

    // A token request whose body is still on its way when the signal arrives.
    const body = 'grant_type=client_credentials&client_id=nobody&client_secret=nothing';
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    const answered = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    socket.write(
      `POST /token HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    await broker.line('shutdown started');

    // No new request is served once shutdown started: the connection is refused, or (when it reached
    // the listen backlog just before the listener closed) reset without an answer.
    const late = await new Promise<string>((resolve) => {
      let received = '';
      const socket = connect(Number(url.port), url.hostname);
      socket.on('connect', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`));
      socket.on('data', (chunk) => {
        received += chunk;
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(`${received}${error.code}`));
      socket.on('close', () => resolve(received));
    });
    assert.match(late, /^(ECONNREFUSED|ECONNRESET|)$/);
    assert.equal(alive(child.pid!), true, 'the broker waits for the request in flight');

    socket.end(body.slice(10));
    await answered;
    assert.match(answer, /^HTTP\/1\.1 401 /, 'the request in flight got its whole answer');
    assert.match(answer, /"error":"invalid_client"/);

    assert.equal(await broker.exited, 0);
    const steps = broker.lines.filter((line) => line.msg === 'shutdown step done').map((line) => line.step);
    assert.deepEqual(steps, ['http', 'audit', 'stores']);
    assert.equal((await broker.line('shutdown complete')).exit_code, 0);
  });

  it('`npm run broker` under a process manager: SIGTERM to npm leaves no node process behind', async () => {
    const npm = spawn('npm', ['run', 'broker', '--', '--config', config], {
      cwd: ROOT,
      env: { ...process.env, ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const broker = watch(npm);
    const ready = await broker.line('broker ready');
    const pid = Number(ready.pid);
    assert.notEqual(pid, npm.pid, 'npm runs the broker as a child');
    assert.equal(alive(pid), true);
    // At once: the broker listens for the signal before it logs that it is ready.
    npm.kill('SIGTERM');
    await broker.exited;
    for (let tries = 0; alive(pid) && tries < 50; tries++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, 'the broker process is gone');
    await broker.closed;
    assert.ok(
      broker.lines.some((line) => line.msg === 'shutdown complete'),
      `it shut down, not killed: ${JSON.stringify(broker.lines.map((line) => line.msg))} ${broker.other.join('\n')}`,
    );
  });
});
