import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { startConsole } from '@baton/console';
import { AUDIT_CONSOLE_CLIENT_ID, type DemoIdp, startDemoIdp } from '@baton/demo-idp';
import { consoleCommandOptions } from '../src/index.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('baton console', () => {
  let directory: string;
  let secretFile: string;
  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'baton-cli-console-'));
    secretFile = join(directory, 'secret');
    writeFileSync(secretFile, 's3cret-from-file\n', { mode: 0o600 });
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('refuses to start without sign-in settings, naming the flags and the opt-out', () => {
    const run = spawnSync(process.execPath, [MAIN, 'console', '--store', directory, '--port', '0'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        BATON_CONSOLE_ISSUER: '',
        BATON_CONSOLE_CLIENT_ID: '',
        BATON_CONSOLE_CLIENT_SECRET: '',
      },
      timeout: 30_000,
    });
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '', 'nothing was served');
    assert.match(run.stderr, /baton console needs sign-in: --issuer and --client-id/);
    assert.match(run.stderr, /--unauthenticated-behind-trusted-proxy/);
  });

  it('refuses a confidential client without its secret, and a secret with --public-client', async () => {
    const base = ['--issuer', 'http://127.0.0.1:4000', '--client-id', 'baton-audit-console'];
    await assert.rejects(consoleCommandOptions(base, {}), /give the console client secret/);
    await assert.rejects(
      consoleCommandOptions([...base, '--public-client'], { BATON_CONSOLE_CLIENT_SECRET: 'x' }),
      /exclude each other/,
    );
    // There is no flag that takes the secret itself: it would show in the process list.
    await assert.rejects(consoleCommandOptions([...base, '--client-secret', 'x'], {}), /Unknown option/);
  });

  it('maps its flags onto sign-in options: the secret from a file, the redirect URI from the public URL', async () => {
    const options = await consoleCommandOptions([
      '--issuer',
      'https://idp.example',
      '--client-id',
      'baton-audit-console',
      '--client-secret-file',
      secretFile,
      '--public-url',
      'https://audit.example',
      '--host',
      '0.0.0.0',
      '--all-tenants-permission',
      'audit:read:all-tenants',
      '--allowed-host',
      'audit.example',
    ]);
    assert.deepEqual(options.auth, {
      issuer: 'https://idp.example',
      clientId: 'baton-audit-console',
      clientSecret: 's3cret-from-file',
      redirectUri: 'https://audit.example/auth/callback',
      permission: 'audit:read',
      allTenantsPermission: 'audit:read:all-tenants',
    });
    assert.deepEqual(options.allowedHostnames, ['audit.example']);
    // Beyond loopback, the URL browsers use must be said.
    await assert.rejects(
      consoleCommandOptions([
        '--host',
        '0.0.0.0',
        '--issuer',
        'https://idp.example',
        '--client-id',
        'c',
        '--public-client',
      ]),
      /give --public-url/,
    );
  });

  it('the opt-out is the one flag, and it cannot be mixed with sign-in settings', async () => {
    const options = await consoleCommandOptions(['--unauthenticated-behind-trusted-proxy'], {});
    assert.equal(options.auth, 'no-sign-in-behind-trusted-proxy');
    await assert.rejects(
      consoleCommandOptions(
        ['--unauthenticated-behind-trusted-proxy', '--issuer', 'https://idp.example'],
        {},
      ),
      /turns sign-in off/,
    );
  });

  describe('served', () => {
    let idp: DemoIdp;
    before(async () => {
      idp = await startDemoIdp({ resources: [] });
    });
    after(() => idp.close());

    it('sends a browser without a session to the provider, and refuses Host: evil.example', async () => {
      const {
        store: _store,
        postgres: _postgres,
        ...options
      } = await consoleCommandOptions(
        [
          '--issuer',
          idp.issuer,
          '--client-id',
          AUDIT_CONSOLE_CLIENT_ID,
          '--public-url',
          'http://127.0.0.1:4020/',
        ],
        { BATON_CONSOLE_CLIENT_SECRET: 'from-env' },
      );
      const served = await startConsole({
        ...options,
        port: 0,
        reader: new MemoryAuditSink(),
        logger: createLogger({ name: 'cli-test', level: 'silent' }),
      });
      try {
        const page = await fetch(served.url, { redirect: 'manual' });
        assert.equal(page.status, 303);
        const location = new URL(page.headers.get('location')!);
        assert.equal(location.origin, idp.issuer);
        assert.equal(location.searchParams.get('redirect_uri'), 'http://127.0.0.1:4020/auth/callback');
        assert.equal((await fetch(new URL('/api/traces', served.url))).status, 401);
        const rebound = await new Promise<number>((resolve, reject) => {
          const target = new URL(served.url);
          request(
            { host: target.hostname, port: target.port, path: '/', headers: { host: 'evil.example' } },
            (response) => {
              response.resume();
              resolve(response.statusCode ?? 0);
            },
          )
            .on('error', reject)
            .end();
        });
        assert.equal(rebound, 403);
      } finally {
        await served.close();
      }
    });
  });
});
