import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { RevocationList } from '@baton/shared-signals';
import {
  createVault,
  FileKeyStore,
  MemoryVaultStore,
  PostgresVaultStore,
  type VaultStore,
  vaultKeyValue,
} from '@baton/vault';
import { importJWK, jwtVerify } from 'jose';
import pg from 'pg';
import { type JwtBearerConnectorOptions, jwtBearerConnector, stringTokenCache } from '../src/index.ts';
import { startJwtBearerTestPlatform } from './fixtures/jwt-bearer-test-platform.ts';
import { generateTestKey, type TestKey } from './fixtures/keys.ts';
import type { TestPlatform } from './fixtures/test-platform.ts';

const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const ann = { sub: 'user-ann', tenant: 'acme' };
const ben = { sub: 'user-ben', tenant: 'acme' };

interface RevocationRequest {
  form: Record<string, string>;
  headers: IncomingHttpHeaders;
}

/** TEST PEER: an RFC 7009 revocation endpoint that answers each request with the next status given. */
function revocationEndpoint() {
  const received: RevocationRequest[] = [];
  let statuses: number[] = [];
  const waiting: Array<() => void> = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ form: Object.fromEntries(new URLSearchParams(body)), headers: request.headers });
      response.statusCode = statuses.shift() ?? 200;
      response.end();
      for (const wake of waiting.splice(0)) wake();
    });
  });
  return {
    received,
    answer: (next: number[]) => {
      statuses = [...next];
    },
    async start(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/revoke`;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every line a pino logger wrote, as text. */
function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'connector-revocation-test', destination }) };
}

/** A URL on 127.0.0.1 that nobody listens on. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/revoke`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
pool.on('error', () => {});
const tablePrefix = `crv${randomBytes(4).toString('hex')}_`;

const VAULT_STORES: Array<[string, () => Promise<VaultStore>]> = [
  ['memory', async () => new MemoryVaultStore()],
  ['PostgreSQL', () => PostgresVaultStore.open({ pool, tablePrefix })],
];

describe('connector platform tokens follow revocation', () => {
  let key: TestKey;
  let dir: string;
  let platform: TestPlatform;
  const endpoint = revocationEndpoint();
  let endpointUrl: string;

  before(async () => {
    key = await generateTestKey();
    dir = await mkdtemp(join(tmpdir(), 'baton-connector-revocation-'));
    platform = await startJwtBearerTestPlatform({
      clients: [{ clientId: 'baton', jwks: { keys: [key.publicJwk] }, authentication: 'private_key_jwt' }],
      users: { 'ann@platform.example': '005-ann', 'ben@platform.example': '005-ben' },
    });
    endpointUrl = await endpoint.start();
  });
  after(async () => {
    await platform.close();
    await endpoint.close();
    const { rows } = await pool.query<{ tablename: string }>(
      'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
      [tablePrefix],
    );
    for (const { tablename } of rows) await pool.query(`DROP TABLE IF EXISTS ${tablename}`);
    await pool.end();
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(
    makeStore: () => Promise<VaultStore>,
    overrides: Partial<JwtBearerConnectorOptions> = {},
  ) {
    const records = await makeStore();
    const vault = createVault({
      keyStore: await FileKeyStore.open({ path: join(dir, `${randomUUID()}.json`) }),
      store: records,
    });
    const revocations = new RevocationList();
    const audit = new MemoryAuditSink();
    const { lines, logger } = capturedLogger();
    const connector = jwtBearerConnector({
      id: 'crm',
      tokenEndpoint: platform.tokenEndpoint,
      clientId: 'baton',
      privateKey: key.privateJwk,
      clientAuthentication: { method: 'private_key_jwt', privateKey: key.privateJwk },
      identityMapping: { 'user-ann': 'ann@platform.example', 'user-ben': 'ben@platform.example' },
      cache: stringTokenCache(vaultKeyValue(vault, `platform-tokens-${randomUUID()}`)),
      revocations,
      revocationEndpoint: endpointUrl,
      audit,
      logger,
      ...overrides,
    });
    async function recordCount(): Promise<number> {
      let count = 0;
      for await (const _ of records.list()) count += 1;
      return count;
    }
    return { connector, revocations, audit, lines, recordCount };
  }

  /** The token as it must never appear: in a log line, an audit event or an error. */
  function assertNowhere(token: string, lines: string[], audit: MemoryAuditSink) {
    assert.equal(lines.join('\n').includes(token), false, 'the token is in no log line');
    assert.equal(JSON.stringify(audit.events).includes(token), false, 'the token is in no audit event');
  }

  for (const [backend, makeStore] of VAULT_STORES) {
    it(`drops ann's platform token and its vault entry (${backend}) when ann is revoked, and revokes it at the platform; ben's stays`, async () => {
      const { connector, revocations, audit, lines, recordCount } = await setup(makeStore);
      const annToken = await connector.token({ user: ann, scopes: ['api'] });
      const benToken = await connector.token({ user: ben, scopes: ['api'] });
      assert.equal(await recordCount(), 2, 'both tokens sealed in the vault');
      const sentBefore = platform.tokenRequests.length;
      endpoint.received.length = 0;

      revocations.add([{ kind: 'subject', value: ann.sub }]);
      await connector.revocations?.settled();

      assert.equal(await recordCount(), 1, "ann's sealed entry is deleted from the vault");
      assert.equal(endpoint.received.length, 1, 'one RFC 7009 request');
      const [{ form }] = endpoint.received as [RevocationRequest];
      assert.equal(form.token, annToken.accessToken);
      assert.equal(form.token_type_hint, 'access_token');
      // The connector's client authentication, as at its token endpoint (private_key_jwt).
      assert.equal(form.client_id, 'baton');
      assert.equal(form.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const { payload } = await jwtVerify(form.client_assertion!, await importJWK(key.publicJwk, 'ES256'), {
        issuer: 'baton',
        subject: 'baton',
        audience: platform.tokenEndpoint,
      });
      assert.ok(payload.jti);

      const event = audit.events.find((candidate) => candidate.target.name === 'token_revocation');
      assert.equal(event?.action, 'api.call');
      assert.equal(event?.outcome, 'ok');
      assert.equal(event?.initiator.sub, ann.sub);
      assert.equal(event?.component, 'crm');

      assert.equal((await connector.token({ user: ben, scopes: ['api'] })).accessToken, benToken.accessToken);
      assert.equal(platform.tokenRequests.length, sentBefore, "ben's token still served from the vault");
      const annAgain = await connector.token({ user: ann, scopes: ['api'] });
      assert.notEqual(annAgain.accessToken, annToken.accessToken, 'ann gets a new token from the platform');
      assert.equal(platform.tokenRequests.length, sentBefore + 1);
      assertNowhere(annToken.accessToken, lines, audit);
    });
  }

  it('drops only the token obtained under a revoked session, found by the provenance kept with it', async () => {
    const { connector, revocations, recordCount } = await setup(VAULT_STORES[0]![1]);
    await connector.token({ user: ann, scopes: ['api'], provenance: { session: 'sid-ann-1' } });
    await connector.token({ user: ben, scopes: ['api'], provenance: { session: 'sid-ben-1' } });
    endpoint.received.length = 0;
    revocations.add([{ kind: 'session', value: 'sid-ann-1' }]);
    await connector.revocations?.settled();
    assert.equal(endpoint.received.length, 1);
    assert.equal(await recordCount(), 1);
  });

  it('retries a revocation the platform answers 503 ("try later", RFC 7009 §2.2.1)', async () => {
    const { connector, revocations, audit } = await setup(VAULT_STORES[0]![1]);
    const annToken = await connector.token({ user: ann, scopes: ['api'] });
    endpoint.received.length = 0;
    endpoint.answer([503]);
    revocations.add([
      { kind: 'client', value: 'agent-x' },
      { kind: 'jti', value: 'unrelated' },
    ]);
    await connector.revocations?.settled();
    assert.equal(endpoint.received.length, 0, 'no revocation covers ann: nothing sent');
    revocations.add([{ kind: 'subject', value: ann.sub }]);
    await connector.revocations?.settled();
    assert.equal(endpoint.received.length, 2, 'tried again after the 503');
    assert.ok(endpoint.received.every(({ form }) => form.token === annToken.accessToken));
    const event = audit.events.find((candidate) => candidate.target.name === 'token_revocation');
    assert.equal(event?.outcome, 'ok');
  });

  it('gives up after three tries on an unreachable endpoint, audited and logged without the token', async () => {
    const { connector, revocations, audit, lines } = await setup(VAULT_STORES[0]![1], {
      revocationEndpoint: await deadUrl(),
    });
    const annToken = await connector.token({ user: ann, scopes: ['api'] });
    revocations.add([{ kind: 'subject', value: ann.sub }]);
    await connector.revocations?.settled();
    const event = audit.events.find((candidate) => candidate.target.name === 'token_revocation');
    assert.equal(event?.outcome, 'error');
    assert.equal(event?.reason, 'revocation_endpoint_unreachable');
    assert.ok(
      lines.some((line) => line.includes('revocation_endpoint_unreachable')),
      'the failure is logged',
    );
    assertNowhere(annToken.accessToken, lines, audit);
    const again = await connector.token({ user: ann, scopes: ['api'] });
    assert.notEqual(again.accessToken, annToken.accessToken, 'dropped from the cache all the same');
  });

  it('refuses, at construction, a revocation endpoint without audit, without revocations, or in the clear', async () => {
    const base = {
      tokenEndpoint: platform.tokenEndpoint,
      clientId: 'baton',
      privateKey: key.privateJwk,
      identityMapping: { 'user-ann': 'ann@platform.example' },
    };
    const revocations = new RevocationList();
    const audit = new MemoryAuditSink();
    assert.throws(
      () => jwtBearerConnector({ ...base, revocations, revocationEndpoint: endpointUrl }),
      /needs audit/,
    );
    assert.throws(
      () => jwtBearerConnector({ ...base, audit, revocationEndpoint: endpointUrl }),
      /needs revocations/,
    );
    assert.throws(
      () =>
        jwtBearerConnector({
          ...base,
          audit,
          revocations,
          revocationEndpoint: 'http://platform.example/revoke',
        }),
      /revocationEndpoint must use https/,
    );
  });
});
