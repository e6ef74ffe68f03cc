import assert from 'node:assert/strict';
import {
  chmod,
  chown,
  stat as fsStat,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { serviceCredentials } from '@baton/broker-client';
import { type DemoIdp, generateSigningJwk, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { ACCESS_TOKEN_TYPE, type Broker, startBroker, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { generateSigningJwk as generateBrokerKey } from '../src/signing-keys.ts';
import {
  EmbeddedStoreDirectoryError,
  EmbeddedStoreLockedError,
  openEmbeddedDatabase,
} from '../src/stores/embedded-database.ts';
import { type BrokerStores, openStores } from '../src/stores/open-stores.ts';
import {
  exchange,
  introspect,
  revoke,
  type ServiceClient,
  serviceClient,
} from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, ORDERS_MCP, POLICY } from './fixtures/stack.ts';

const INITIAL_ACCESS_TOKEN = 'embedded-store-initial-access-token';

describe('the embedded store (PGlite) keeps broker state across a restart', () => {
  let dir: string;
  let idp: DemoIdp;
  let orders: ServiceClient;
  let billing: ServiceClient;
  let signingKeys: Awaited<ReturnType<typeof generateBrokerKey>>[];
  let running: { broker: Broker; stores: BrokerStores } | undefined;

  /** The same port on a restart, so the issuer (the instance's own URL) stays the same. */
  async function startOn(directory: string, port = 0) {
    const stores = await openStores({ kind: 'embedded', directory });
    const broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [
        { resource: BILLING_MCP, scopes: ['billing:read', 'orders:read'] },
        { resource: BILLING_API, scopes: ['billing:read'] },
      ],
      policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
      audit: new MemoryAuditSink(),
      clients: [orders.metadata, billing.metadata],
      initialAccessToken: INITIAL_ACCESS_TOKEN,
      signingKeys,
      port,
      registry: stores.registry,
      adapter: stores.adapter,
      operations: { readiness: stores.checks },
    });
    running = { broker, stores };
    return running;
  }

  async function stop() {
    if (!running) return;
    await running.broker.close();
    await running.stores.close();
    running = undefined;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-embedded-'));
    idp = await startDemoIdp({
      signingJwk: await generateSigningJwk(),
      resources: [{ resource: ORDERS_MCP, scopes: ['orders:read', 'billing:read'] }],
    });
    orders = await serviceClient('orders-mcp', [ORDERS_MCP]);
    billing = await serviceClient('billing-mcp', [BILLING_MCP]);
    signingKeys = [await generateBrokerKey()];
  });

  after(async () => {
    await stop();
    await idp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const userToken = async (username: string) =>
    (
      await obtainUserAccessToken(idp, {
        username,
        password: `${username}-demo-pw`,
        resource: ORDERS_MCP,
        scope: 'orders:read billing:read',
      })
    ).access_token;

  async function chain(issuer: string, username: string): Promise<[string, string]> {
    const first = await exchange(issuer, orders, {
      subject_token: await userToken(username),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await exchange(issuer, billing, {
      subject_token: first.body.access_token as string,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    return [first.body.access_token as string, second.body.access_token as string];
  }

  it('a registered client, a revoked token, a revoked root and a used client assertion all survive a restart; a second broker on the directory is refused', async () => {
    // --- first life ---
    const { broker } = await startOn(dir);
    const issuer = broker.issuer;

    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'k1' };
    const { d: _d, ...publicJwk } = privateJwk;
    const registered = await fetch(`${issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...publicJwk, use: 'sig' }] },
        grant_types: [TOKEN_EXCHANGE_GRANT],
      }),
    });
    const registration = (await registered.json()) as Record<string, string>;
    assert.equal(registered.status, 201, JSON.stringify(registration));
    const credentials = await serviceCredentials(registration.client_id!, privateJwk);
    const dynamic: ServiceClient = {
      clientId: registration.client_id!,
      metadata: {} as never,
      assertion: (audience) => credentials.assertion(audience),
    };

    const [revokedHop1, revokedHop2] = await chain(issuer, 'alice');
    const [rootRevokedHop1, rootRevokedHop2] = await chain(issuer, 'alice');
    const [activeHop1] = await chain(issuer, 'alice');
    // Introspected by billing: it serves hop 1's audience and hop 2 was issued to it.
    for (const token of [revokedHop1, revokedHop2, rootRevokedHop1, rootRevokedHop2, activeHop1]) {
      assert.equal((await introspect(issuer, billing, token)).body.active, true);
    }

    assert.equal((await revoke(issuer, orders, revokedHop1)).status, 200, 'RFC 7009 revocation');
    const rootRecord = await broker.registry.find(decodeJwt(rootRevokedHop2).jti as string);
    assert.ok(rootRecord);
    await broker.revoke({ root: rootRecord.root }, { actor: 'operator' });

    // A client assertion used once before the restart.
    const usedAssertion = await orders.assertion(issuer);
    const first = await exchange(
      issuer,
      orders,
      {
        subject_token: await userToken('alice'),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
      },
      { assertion: usedAssertion },
    );
    assert.equal(first.status, 200, JSON.stringify(first.body));

    await stop();

    // --- second life, same directory ---
    const second = await startOn(dir, Number(new URL(issuer).port));
    assert.equal(second.broker.issuer, issuer);
    const again = second.broker.issuer;

    // Another broker on the same directory, in this process or another, is refused while this one runs.
    await assert.rejects(
      openStores({ kind: 'embedded', directory: dir }),
      (error: unknown) =>
        error instanceof EmbeddedStoreLockedError &&
        error.code === 'ERR_BROKER_STORE_LOCKED' &&
        /already open in this process; one broker per data directory/.test(error.message),
    );

    // The dynamically registered client still authenticates (an unknown one does not), and its
    // registration access token still reads its registration (RFC 7592).
    assert.equal((await introspect(again, dynamic, activeHop1)).status, 200);
    const stranger = await serviceClient('never-registered', []);
    assert.equal((await introspect(again, stranger, activeHop1)).body.error, 'invalid_client');
    const read = await fetch(`${again}/reg/${encodeURIComponent(dynamic.clientId)}`, {
      headers: { authorization: `Bearer ${registration.registration_access_token}` },
    });
    assert.equal(read.status, 200);

    // Issued-token records are remembered: the untouched chain is still active, so "inactive" below
    // means revoked, not forgotten.
    assert.equal((await introspect(again, billing, activeHop1)).body.active, true);
    assert.ok(await second.broker.registry.find(decodeJwt(revokedHop1).jti as string));

    // The RFC 7009 revocation and its cascade.
    assert.deepEqual((await introspect(again, billing, revokedHop1)).body, { active: false });
    assert.deepEqual((await introspect(again, billing, revokedHop2)).body, { active: false });
    const onward = await exchange(again, billing, {
      subject_token: revokedHop1,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(onward.status, 400);
    assert.equal(onward.body.error, 'invalid_grant', 'a revoked token cannot be exchanged after a restart');
    assert.equal('access_token' in onward.body, false);

    // The root revocation.
    assert.equal((await introspect(again, billing, rootRevokedHop1)).body.active, false);
    assert.equal((await introspect(again, billing, rootRevokedHop2)).body.active, false);

    // The client assertion's jti is still recorded: replaying it after the restart is refused.
    const replayed = await exchange(
      again,
      orders,
      {
        subject_token: await userToken('alice'),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
      },
      { assertion: usedAssertion },
    );
    assert.equal(replayed.status, 401, JSON.stringify(replayed.body));
    assert.equal(replayed.body.error, 'invalid_client');

    // Readiness names the embedded store.
    const ready = await fetch(new URL('/readyz', second.broker.url));
    assert.equal(ready.status, 200);
    assert.deepEqual(
      ((await ready.json()) as { checks: { name: string }[] }).checks.map((check) => check.name).sort(),
      ['embedded_store', 'signing_keys'],
    );
    await stop();
    // Closed: the directory is free again.
    const reopened = await openEmbeddedDatabase(dir);
    await reopened.close();
  });
});

describe('the embedded store locks its data directory to one process', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-embedded-lock-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const startTime = async (pid: number) => {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  };
  /** A lock record as a broker writes it; `ours` fills in this process's boot and namespace. */
  const record = async (fields: Record<string, unknown> = {}) => {
    return `${JSON.stringify({
      pid: process.pid,
      bootId: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
      pidNamespace: (await fsStat('/proc/self/ns/pid')).ino,
      startTime: await startTime(process.pid),
      nonce: 'another-opening',
      ...fields,
    })}\n`;
  };
  const refusedBy = (pattern: RegExp) => (error: unknown) =>
    error instanceof EmbeddedStoreLockedError &&
    error.code === 'ERR_BROKER_STORE_LOCKED' &&
    pattern.test(error.message);

  it('refuses a directory that a live process (another broker) has open', async () => {
    // The parent of this test process is alive for as long as the test runs.
    const held = await record({ pid: process.ppid, startTime: await startTime(process.ppid) });
    await writeFile(join(dir, 'broker.pid'), held);
    await assert.rejects(
      openEmbeddedDatabase(dir),
      refusedBy(new RegExp(`already open by process ${process.ppid};`)),
    );
    assert.equal(await readFile(join(dir, 'broker.pid'), 'utf8'), held, 'left untouched');
  });

  it('takes over the lock a crashed broker left behind', async () => {
    // Process ids are at most 2^22 on Linux: this one cannot be running.
    await writeFile(join(dir, 'broker.pid'), await record({ pid: 2147483646 }));
    const database = await openEmbeddedDatabase(dir);
    try {
      const taken = JSON.parse(await readFile(join(dir, 'broker.pid'), 'utf8'));
      assert.equal(taken.pid, process.pid);
      assert.match(taken.nonce, /^[0-9a-f]{32}$/);
      const { rows } = await database.connection.query<{ one: number }>('SELECT 1 AS one');
      assert.deepEqual(rows, [{ one: 1 }]);
    } finally {
      await database.close();
    }
    await assert.rejects(readFile(join(dir, 'broker.pid')), { code: 'ENOENT' });
  });

  it('takes over a live pid whose start time differs (the pid was reused after a crash)', async () => {
    await writeFile(join(dir, 'broker.pid'), await record({ pid: process.ppid, startTime: '1' }));
    const database = await openEmbeddedDatabase(dir);
    await database.close();
  });

  it('refuses a pid file from another pid namespace (another container) even when that pid is dead here', async () => {
    // Two containers on one volume are both pid 1: liveness cannot be checked across namespaces.
    const foreign = await record({ pid: 2147483646, pidNamespace: 1 });
    await writeFile(join(dir, 'broker.pid'), foreign);
    await assert.rejects(openEmbeddedDatabase(dir), refusedBy(/in another pid namespace/));
    assert.equal(await readFile(join(dir, 'broker.pid'), 'utf8'), foreign, 'left untouched');
  });

  it('refuses a pid file from another boot even when that pid is dead here', async () => {
    await writeFile(join(dir, 'broker.pid'), await record({ pid: 2147483646, bootId: 'another-boot' }));
    await assert.rejects(openEmbeddedDatabase(dir), refusedBy(/of another boot/));
  });

  it('refuses a record naming our own pid from another container (another namespace) or another opening', async () => {
    // Another container's pid 1 is not this process because the pid matches.
    await writeFile(join(dir, 'broker.pid'), await record({ pidNamespace: 1 }));
    await assert.rejects(openEmbeddedDatabase(dir), refusedBy(/in another pid namespace/));
    // Our pid, our namespace, our start time, another nonce: another opening in this process.
    await writeFile(join(dir, 'broker.pid'), await record());
    await assert.rejects(openEmbeddedDatabase(dir), refusedBy(/this process, another opening/));
  });

  it('refuses a pid file it cannot read as a record (a bare pid from another container)', async () => {
    await writeFile(join(dir, 'broker.pid'), '1\n');
    await assert.rejects(openEmbeddedDatabase(dir), refusedBy(/unreadable record/));
  });

  it('closing does not delete a pid file whose nonce is not ours (a broker that took over since)', async () => {
    await rm(join(dir, 'broker.pid'), { force: true });
    const database = await openEmbeddedDatabase(dir);
    const successor = await record({ nonce: 'the-next-broker' });
    await writeFile(join(dir, 'broker.pid'), successor);
    await database.close();
    assert.equal(
      await readFile(join(dir, 'broker.pid'), 'utf8'),
      successor,
      "the next broker's lock is kept",
    );
    await rm(join(dir, 'broker.pid'));
  });
});

describe("the embedded store's data directory is this process's own and private", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-embedded-directory-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('tightens a group- and world-readable existing directory to 0700 (registration access tokens are in 0640 files)', async () => {
    const lax = join(dir, 'lax');
    await mkdir(lax);
    await chmod(lax, 0o755);
    const database = await openEmbeddedDatabase(lax);
    try {
      assert.equal((await fsStat(lax)).mode & 0o777, 0o700);
    } finally {
      await database.close();
    }
  });

  it("refuses a directory another user pre-created (an attacker's .baton/broker)", {
    skip: process.getuid?.() !== 0 && 'needs root to chown',
  }, async () => {
    const planted = join(dir, 'planted');
    await mkdir(planted, { mode: 0o700 });
    await chown(planted, 4242, 4242);
    await assert.rejects(
      openEmbeddedDatabase(planted),
      (error: unknown) =>
        error instanceof EmbeddedStoreDirectoryError &&
        error.code === 'ERR_BROKER_STORE_INSECURE' &&
        /is owned by uid 4242/.test(error.message),
    );
    await assert.rejects(
      readFile(join(planted, 'broker.pid')),
      { code: 'ENOENT' },
      'nothing written into it',
    );
  });

  it('refuses a symbolic link planted at the directory path', async () => {
    const target = join(dir, 'target');
    await mkdir(target, { mode: 0o700 });
    const link = join(dir, 'link');
    await symlink(target, link);
    await assert.rejects(
      openEmbeddedDatabase(link),
      (error: unknown) =>
        error instanceof EmbeddedStoreDirectoryError && /is a symbolic link/.test(error.message),
    );
    await assert.rejects(
      readFile(join(target, 'broker.pid')),
      { code: 'ENOENT' },
      'nothing written through it',
    );
  });
});
