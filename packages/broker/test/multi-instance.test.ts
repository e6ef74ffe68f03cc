import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DemoIdp, generateSigningJwk, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { ACCESS_TOKEN_TYPE } from '../src/index.ts';
import { exchange, type ServiceClient, serviceClient } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, ORDERS_MCP, POLICY } from './fixtures/stack.ts';
import {
  deleteKeys,
  dropTables,
  openPool,
  openRedis,
  POSTGRES_URL,
  REDIS_URL,
  uniquePrefix,
} from './stores/servers.ts';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
/** One public issuer for the deployment; each instance listens on its own port. */
const ISSUER = 'http://127.0.0.1:4999';

interface Instance {
  url: string;
  process: ChildProcess;
}

function startInstance(config: string): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--config', config], {
      env: { ...process.env, BATON_BROKER_INITIAL_ACCESS_TOKEN: 'multi-instance-initial-access-token' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${output}`)), 20_000);
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const ready = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string; url?: string })
        .find((line) => line.msg === 'broker ready');
      if (ready?.url) {
        clearTimeout(timer);
        resolve({ url: ready.url, process: child });
      }
    });
    child.stderr!.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => reject(new Error(`broker exited ${code}:\n${output}`)));
  });
}

/** POST to one instance, while tokens and assertions name the shared issuer. */
async function form(
  instance: Instance,
  path: string,
  client: ServiceClient,
  parameters: Record<string, string>,
) {
  const response = await fetch(`${instance.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: client.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await client.assertion(ISSUER),
      ...parameters,
    }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe('two broker processes on one PostgreSQL and Redis', () => {
  let dir: string;
  let idp: DemoIdp;
  let orders: ServiceClient;
  let billing: ServiceClient;
  let a: Instance;
  let b: Instance;
  const prefix = uniquePrefix();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-multi-'));
    idp = await startDemoIdp({
      signingJwk: await generateSigningJwk(),
      resources: [{ resource: ORDERS_MCP, scopes: ['orders:read', 'billing:read'] }],
    });
    orders = await serviceClient('orders-mcp', [ORDERS_MCP]);
    billing = await serviceClient('billing-mcp', [BILLING_MCP]);
    await writeFile(join(dir, 'policy.cedar'), POLICY);
    const config = join(dir, 'broker.json');
    await writeFile(
      config,
      JSON.stringify({
        issuer: ISSUER,
        port: 0,
        trustedIssuers: [{ issuer: idp.issuer }],
        audiences: [
          { resource: BILLING_MCP, scopes: ['billing:read', 'orders:read'] },
          { resource: BILLING_API, scopes: ['billing:read'] },
        ],
        policy: { file: 'policy.cedar' },
        clients: [orders.metadata, billing.metadata],
        store: {
          kind: 'postgres-redis',
          postgresUrl: POSTGRES_URL,
          redisUrl: REDIS_URL,
          tablePrefix: prefix,
          keyPrefix: `${prefix}:`,
        },
      }),
    );
    // The first instance creates the shared signing key file and the schema; the second reuses both.
    a = await startInstance(config);
    b = await startInstance(config);
  });

  after(async () => {
    for (const instance of [a, b]) instance?.process.kill('SIGTERM');
    await idp?.close();
    const pool = openPool();
    await dropTables(pool, prefix);
    await pool.end();
    const redis = await openRedis();
    await deleteKeys(redis, `${prefix}:`);
    await redis.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an exchange on one instance, introspection and revocation on the other: both agree at once', async () => {
    const user = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: ORDERS_MCP,
      scope: 'orders:read billing:read',
    });
    const hop1 = await form(a, '/token', orders, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: user.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(hop1.status, 200, JSON.stringify(hop1.body));
    const token = hop1.body.access_token as string;
    const hop2 = await form(b, '/token', billing, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(
      hop2.status,
      200,
      `instance B exchanges a token instance A issued: ${JSON.stringify(hop2.body)}`,
    );
    assert.equal((await form(b, '/token/introspection', billing, { token })).body.active, true);

    assert.equal((await form(b, '/token/revocation', orders, { token })).status, 200);
    assert.deepEqual((await form(a, '/token/introspection', orders, { token })).body, { active: false });
    assert.deepEqual(
      (await form(a, '/token/introspection', billing, { token: hop2.body.access_token as string })).body,
      { active: false },
      'the cascade reaches a token issued by the other instance',
    );
    const again = await form(a, '/token', billing, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(again.body.error, 'invalid_grant');
  });

  it('refuses a client assertion replayed against the other instance', async () => {
    const user = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: ORDERS_MCP,
      scope: 'billing:read',
    });
    const assertion = await orders.assertion(ISSUER);
    const parameters = {
      subject_token: user.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    };
    const first = await exchange(a.url, orders, parameters, { assertion });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await exchange(b.url, orders, parameters, { assertion });
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error, 'invalid_client');
  });
});
