import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import { serviceClientMetadata, serviceCredentials } from '@baton/broker-client';
import { exportJWK, generateKeyPair } from 'jose';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const SECRET = 'the-ops-robot-client-secret-0123456789abcdef';
const RESOURCE = 'http://127.0.0.1:4103/api';

/** Runs `baton …` as its own process (the broker runs in this one, so never spawnSync). */
function baton(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      {
        env: {
          ...process.env,
          BATON_BROKER_URL: '',
          BATON_ADMIN_CLIENT_ID: '',
          BATON_ADMIN_PRIVATE_KEY_FILE: '',
          BATON_ADMIN_CLIENT_SECRET: '',
          ...env,
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('baton revoke, against a running broker', () => {
  let broker: Broker;
  let directory: string;
  let keyFile: string;
  let strangerKeyFile: string;
  const audit = new MemoryAuditSink();
  let asAdmin: Record<string, string>;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'baton-revoke-'));
    const admin = await generateKeyPair('ES256', { extractable: true });
    const adminJwk = { ...(await exportJWK(admin.privateKey)), kid: 'ops-1', alg: 'ES256' };
    const adminCredentials = await serviceCredentials('ops', adminJwk);
    keyFile = join(directory, 'ops.jwk.json');
    writeFileSync(keyFile, JSON.stringify(adminJwk), { mode: 0o600 });
    const stranger = await generateKeyPair('ES256', { extractable: true });
    const strangerJwk = { ...(await exportJWK(stranger.privateKey)), kid: 'stranger-1', alg: 'ES256' };
    const strangerCredentials = await serviceCredentials('stranger', strangerJwk);
    strangerKeyFile = join(directory, 'stranger.jwk.json');
    writeFileSync(strangerKeyFile, JSON.stringify(strangerJwk), { mode: 0o600 });

    broker = await startBroker({
      trustedIssuers: [],
      audiences: [{ resource: RESOURCE, scopes: ['billing:read'] }],
      policy: createCedarPolicyEngine({ policies: '', defaults: { lifetimeSeconds: 60, maxDepth: 2 } }),
      audit,
      clients: [
        serviceClientMetadata({ clientId: 'ops', jwks: adminCredentials.jwks, resources: [] }),
        serviceClientMetadata({ clientId: 'stranger', jwks: strangerCredentials.jwks, resources: [] }),
        {
          client_id: 'ops-robot',
          client_secret: SECRET,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
        },
      ],
      adminClients: ['ops', 'ops-robot'],
      initialAccessToken: 'cli-test-initial-access-token',
    });
    asAdmin = {
      BATON_BROKER_URL: broker.issuer,
      BATON_ADMIN_CLIENT_ID: 'ops',
      BATON_ADMIN_PRIVATE_KEY_FILE: keyFile,
    };
  });
  after(async () => {
    await broker.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** A token the broker issued for `subject`, as its registry records it. */
  async function issued(subject: string, overrides: Record<string, unknown> = {}) {
    const now = Math.floor(Date.now() / 1000);
    const token = {
      jti: randomUUID(),
      parent: null,
      root: `https://idp.example#${randomUUID()}`,
      subject,
      clientId: 'orders-mcp',
      audience: RESOURCE,
      exp: now + 300,
      issuedAt: now - 10,
      ...overrides,
    };
    await broker.registry.record(token);
    return token;
  }

  it('revokes a subject up to now and prints how many tokens that covered', async () => {
    const subject = `bob-${randomUUID()}`;
    const token = await issued(subject);
    await issued(subject);
    const run = await baton(['revoke', '--subject', subject, '--reason', 'offboarded'], asAdmin);
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(
        `^revoked subject:${subject} \\(tokens issued before .+Z\\): 2 unexpired tokens covered, 1 revocation for receivers\\n$`,
      ),
    );
    assert.equal(await broker.registry.isActive(token.jti, Math.floor(Date.now() / 1000)), false);
    const event = audit.events.at(-1)!;
    assert.equal(event.action, 'revocation');
    assert.equal(event.initiator.sub, 'ops');
    assert.equal(event.revocation?.note, 'offboarded');
    assert.equal(event.revocation?.covered, 2);
  });

  it('disables a subject, lists it, lifts it', async () => {
    const subject = `carol-${randomUUID()}`;
    const token = await issued(subject);
    const disabled = await baton(['revoke', '--subject', subject, '--disable'], asAdmin);
    assert.equal(disabled.status, 0, disabled.stderr);
    assert.match(disabled.stdout, /\(disabled until lifted\): 1 unexpired token covered/);
    const listed = await baton(['revoke', '--list'], asAdmin);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`subject +${subject}  disabled`));
    const lifted = await baton(['revoke', '--lift', '--subject', subject], asAdmin);
    assert.equal(lifted.stdout, `lifted subject:${subject}\n`);
    // Enabled again, but a token issued while (or before) carol was disabled is not revived.
    assert.equal(await broker.registry.isActive(token.jti, Math.floor(Date.now() / 1000)), false);
    const again = await baton(['revoke', '--lift', '--subject', subject], asAdmin);
    assert.equal(again.status, 0);
    assert.equal(again.stdout, `nothing to lift: subject:${subject} was not revoked\n`);
  });

  it('revokes a root grant, a token, a session and a client; a subject before a given instant', async () => {
    const session = `sid-${randomUUID()}`;
    const token = await issued(`dan-${randomUUID()}`, { session });
    for (const [args, expected] of [
      [['--session', session], /revoked session:.+: 1 unexpired token covered, 1 revocation for receivers/],
      [['--jti', token.jti], /revoked jti:.+: 1 unexpired token covered, 1 revocation for receivers/],
      [['--root', token.root], /revoked root:.+: 1 unexpired token covered, 2 revocations for receivers/],
      [['--client', `agent-${randomUUID()}`], /\(disabled until lifted\): 0 unexpired tokens covered/],
      [
        ['--subject', 'erin', '--before', '2026-01-31T12:00:00Z'],
        /tokens issued before 2026-01-31T12:00:00.000Z/,
      ],
    ] as const) {
      const run = await baton(['revoke', ...args], asAdmin);
      assert.equal(run.status, 0, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, expected);
    }
  });

  it('authenticates with a client secret from the environment (client_secret_jwt)', async () => {
    const run = await baton(['revoke', '--client', `agent-${randomUUID()}`], {
      BATON_BROKER_URL: broker.issuer,
      BATON_ADMIN_CLIENT_ID: 'ops-robot',
      BATON_ADMIN_CLIENT_SECRET: SECRET,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(audit.events.at(-1)?.initiator.sub, 'ops-robot');
  });

  it('exits 1 when the broker refuses: a client that is not an administrator, a wrong secret', async () => {
    const stranger = await baton(['revoke', '--subject', 'x'], {
      ...asAdmin,
      BATON_ADMIN_CLIENT_ID: 'stranger',
      BATON_ADMIN_PRIVATE_KEY_FILE: strangerKeyFile,
    });
    assert.equal(stranger.status, 1);
    assert.match(stranger.stderr, /refused \(403\): insufficient_scope/);
    const wrong = await baton(['revoke', '--subject', 'x'], {
      BATON_BROKER_URL: broker.issuer,
      BATON_ADMIN_CLIENT_ID: 'ops-robot',
      BATON_ADMIN_CLIENT_SECRET: 'not-the-secret',
    });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /refused \(401\): invalid_token/);
  });

  it('exits 1 when the broker cannot be reached', async () => {
    const run = await baton(['revoke', '--subject', 'x', '--broker', 'http://127.0.0.1:1'], asAdmin);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /could not be reached/);
  });

  it('exits 2 on a usage error, before calling the broker', async () => {
    const events = audit.events.length;
    for (const args of [
      [],
      ['--subject', 'a', '--client', 'b'],
      ['--client', 'b', '--before', 'now'],
      ['--subject', 'a', '--before', 'yesterday'],
      ['--subject', 'a', '--before', 'now', '--disable'],
      ['--lift', '--jti', 'x'],
      ['--list', '--subject', 'a'],
      ['--subject', 'a', '--frobnicate'],
    ]) {
      const run = await baton(['revoke', ...args], asAdmin);
      assert.equal(run.status, 2, args.join(' '));
      assert.match(run.stderr, /^baton revoke: /);
    }
    const noBroker = await baton(['revoke', '--subject', 'a'], { ...asAdmin, BATON_BROKER_URL: '' });
    assert.equal(noBroker.status, 2);
    assert.match(noBroker.stderr, /--broker URL/);
    const noCredentials = await baton(['revoke', '--subject', 'a'], {
      ...asAdmin,
      BATON_ADMIN_PRIVATE_KEY_FILE: '',
    });
    assert.equal(noCredentials.status, 2);
    assert.match(noCredentials.stderr, /admin credentials/);
    assert.equal(audit.events.length, events);
  });

  it('--help prints the usage, exit 0', async () => {
    const run = await baton(['revoke', '--help']);
    assert.equal(run.status, 0);
    assert.match(run.stdout, /baton revoke --subject SUB/);
  });
});
