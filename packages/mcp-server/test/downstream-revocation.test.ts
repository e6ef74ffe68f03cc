import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { type ServiceCredentials, serviceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import type { AccessTokenVerifier } from '@baton/resource-server';
import { followRevocations, type Revocation, RevocationList } from '@baton/shared-signals';
import { createVault, FileKeyStore, MemoryVaultStore, vaultKeyValue } from '@baton/vault';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TokenCache } from '../src/downstream/token-cache.ts';
import { IdentityBoundary } from '../src/index.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

const RESOURCE = 'http://127.0.0.1:9/tools/mcp';
const SERVER_CLIENT = 'tools-mcp';

/** Two callers, each with their own agent, IdP session and token. */
const CALLERS = {
  alice: { sub: 'user-alice', agent: 'agent-alice', sid: 'sid-alice', jti: 'jti-alice' },
  bob: { sub: 'user-bob', agent: 'agent-bob', sid: 'sid-bob', jti: 'jti-bob' },
} as const;
type Caller = keyof typeof CALLERS;

/** The bearer token each caller sends (the verifier below has checked it, as a real one would). */
const tokenOf = (caller: Caller) => `subject-token-of-${caller}`;

const verifier: AccessTokenVerifier = {
  async verify(token) {
    const caller = (Object.keys(CALLERS) as Caller[]).find((name) => tokenOf(name) === token);
    if (!caller) throw new Error('unknown token');
    const { sub, agent, sid, jti } = CALLERS[caller];
    const now = Math.floor(Date.now() / 1000);
    return {
      issuer: 'http://127.0.0.1:9',
      subject: sub,
      clientId: agent,
      scopes: ['orders:read'],
      audience: [RESOURCE],
      expiresAt: now + 300,
      issuedAt: now - 10,
      tokenId: jti,
      claims: {
        iss: 'http://127.0.0.1:9',
        sub,
        client_id: agent,
        scope: 'orders:read',
        iat: now - 10,
        exp: now + 300,
        jti,
        tenant: 'acme',
        sid,
      },
    };
  },
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('downstream token caches follow revocation', () => {
  /** Token exchanges the broker answered, by the caller whose subject token came with them. */
  const exchanges: Caller[] = [];
  let clientCredentialsGrants = 0;
  const broker = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const form = new URLSearchParams(body);
      response.setHeader('content-type', 'application/json');
      let token: string;
      if (form.get('grant_type') === 'client_credentials') {
        clientCredentialsGrants += 1;
        token = `service-token-${clientCredentialsGrants}`;
      } else {
        const caller = (Object.keys(CALLERS) as Caller[]).find(
          (name) => tokenOf(name) === form.get('subject_token'),
        );
        exchanges.push(caller!);
        token = `exchanged-for-${caller}-${exchanges.length}`;
      }
      response.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300 }));
    });
  });
  const api = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end('{}');
  });
  let brokerUrl: string;
  let apiUrl: string;
  let credentials: ServiceCredentials;
  const envelopes = new EnvelopeIssuer({
    issuer: RESOURCE,
    trustDomain: 'baton.test',
    keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
  });
  before(async () => {
    brokerUrl = await listen(broker);
    apiUrl = `${await listen(api)}/api`;
    credentials = await serviceCredentials(SERVER_CLIENT);
  });
  after(async () => {
    for (const server of [broker, api]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  /** A boundary whose downstream caches follow `revocations`, and a way to call a service as a caller. */
  function boundaryFollowing(revocations: RevocationList) {
    const boundary = new IdentityBoundary({
      resource: RESOURCE,
      authorizationServers: ['http://127.0.0.1:9'],
      tokenVerifier: verifier,
      envelopes,
      audit: new MemoryAuditSink(),
      logger: createLogger({ name: 'downstream-revocation-test', level: 'silent' }),
      delegation: { mode: 'on_behalf_of', allowed: [`${apiUrl}/obo`, `${apiUrl}/own`] },
      downstream: {
        broker: { issuer: brokerUrl, credentials },
        services: [
          { name: 'obo-api', url: `${apiUrl}/obo`, mode: 'on_behalf_of', scopes: ['orders:read'] },
          { name: 'own-api', url: `${apiUrl}/own`, mode: 'service_identity', scopes: [] },
        ],
      },
      // The caches follow the list; the boundary's own check admits everyone here, so that what is
      // under test is what the caches drop (the boundary's refusal is revocation.test.ts's).
      revocations: { list: revocations, check: () => undefined },
    });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 't', version: '1' });
      boundary.registerTool(
        server,
        'call',
        { scopes: ['orders:read'], inputSchema: z.object({ service: z.string() }) },
        async ({ input }, context) => {
          const response = await context.downstream.fetch(input.service);
          return { content: [{ type: 'text', text: String(response.status) }] };
        },
      );
      return server;
    });
    const handler = boundary.protect(mcp);
    return async (caller: Caller, service = 'obo-api', status = 200) => {
      const response = await handler.fetch(toolCallRequest(RESOURCE, tokenOf(caller), 'call', { service }));
      assert.equal(response.status, status);
      await response.text();
    };
  }

  /** Alice and bob have each called twice (one exchange each, the second call cached). */
  async function bothCached(call: (caller: Caller) => Promise<void>) {
    exchanges.length = 0;
    for (const caller of ['alice', 'bob', 'alice', 'bob'] as const) await call(caller);
    assert.deepEqual(exchanges, ['alice', 'bob'], 'one exchange each, then the cache');
  }

  const bobsRevocations: Array<[string, Revocation]> = [
    ['his person (subject)', { kind: 'subject', value: CALLERS.bob.sub }],
    ['his identity-provider session', { kind: 'session', value: CALLERS.bob.sid }],
    ['his agent (a client in the chain)', { kind: 'client', value: CALLERS.bob.agent }],
    ["his subject token's jti", { kind: 'jti', value: CALLERS.bob.jti }],
  ];
  for (const [label, revocation] of bobsRevocations) {
    it(`drops the token exchanged for bob when ${label} is revoked; alice's stays cached`, async () => {
      const revocations = new RevocationList();
      const call = boundaryFollowing(revocations);
      await bothCached(call);
      revocations.add([revocation]);
      await call('bob');
      await call('alice');
      assert.deepEqual(exchanges, ['alice', 'bob', 'bob'], "bob's token exchanged again, alice's reused");
    });
  }

  it("keeps bob's token when his person is revoked only before it was issued (a later sign-in)", async () => {
    const revocations = new RevocationList();
    const call = boundaryFollowing(revocations);
    await bothCached(call);
    // The subject token was issued 10 s ago: a revocation of what came before 60 s ago does not cover it.
    revocations.add([
      { kind: 'subject', value: CALLERS.bob.sub, before: Math.floor(Date.now() / 1000) - 60 },
    ]);
    await call('bob');
    assert.deepEqual(exchanges, ['alice', 'bob']);
  });

  it('drops every token this server obtained when its own client is revoked, its service token included', async () => {
    const revocations = new RevocationList();
    const call = boundaryFollowing(revocations);
    await bothCached(call);
    clientCredentialsGrants = 0;
    await call('alice', 'own-api');
    await call('alice', 'own-api');
    assert.equal(clientCredentialsGrants, 1, 'the service token is cached');
    revocations.add([{ kind: 'client', value: SERVER_CLIENT }]);
    await call('alice');
    await call('bob');
    await call('alice', 'own-api');
    assert.deepEqual(exchanges, ['alice', 'bob', 'alice', 'bob']);
    assert.equal(clientCredentialsGrants, 2, 'the service token obtained again');
  });

  it('a revocation already on the list when the server starts covers tokens cached from then on', async () => {
    const revocations = new RevocationList();
    revocations.add([
      { kind: 'subject', value: CALLERS.bob.sub, before: Math.floor(Date.now() / 1000) + 60 },
    ]);
    const call = boundaryFollowing(revocations);
    exchanges.length = 0;
    // Bob's token was issued before the revocation's instant: nothing obtained for it is kept.
    await call('bob');
    await call('bob');
    assert.deepEqual(exchanges, ['bob', 'bob']);
  });
});

describe('a shared downstream token store follows revocation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-revocation-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("deletes the vault's encrypted copy, and another instance never serves a copy a revocation covers", async () => {
    const vault = createVault({
      keyStore: await FileKeyStore.open({ path: join(dir, 'keys.json') }),
      store: new MemoryVaultStore(),
    });
    const store = vaultKeyValue(vault, 'downstream');
    const revocations = new RevocationList();
    const first = new TokenCache({ store });
    const second = new TokenCache({ store });
    const following = followRevocations(revocations, first);
    followRevocations(revocations, second);
    const expiresAt = Math.floor(Date.now() / 1000) + 300;
    const bob = { subject: 'user-bob', session: 'sid-bob', clients: ['agent-bob', SERVER_CLIENT] };
    const alice = { subject: 'user-alice', session: 'sid-alice', clients: ['agent-alice', SERVER_CLIENT] };
    await first.get('bob-key', async () => ({ accessToken: 'bob-downstream', expiresAt }), bob);
    await first.get('alice-key', async () => ({ accessToken: 'alice-downstream', expiresAt }), alice);
    assert.equal(typeof (await store.get('bob-key')), 'string', 'the encrypted copy is in the vault');

    revocations.add([{ kind: 'session', value: 'sid-bob' }]);
    await following.settled();
    assert.equal(await store.get('bob-key'), undefined, "bob's encrypted copy is gone");
    assert.equal(typeof (await store.get('alice-key')), 'string', "alice's stays");

    // Another instance wrote bob a token after the revocation went out but before it was told: the
    // copy carries its provenance, so no instance following the list serves it.
    await store.set('bob-key', JSON.stringify({ accessToken: 'stale-bob', expiresAt, provenance: bob }), 300);
    const fresh = await second.get('bob-key', async () => ({ accessToken: 'bob-again', expiresAt }), {
      subject: 'user-bob',
      session: 'sid-bob-2',
    });
    assert.equal(fresh.accessToken, 'bob-again');
    const aliceShared = await second.get('alice-key', async () => {
      throw new Error('alice must come from the shared store');
    });
    assert.equal(aliceShared.accessToken, 'alice-downstream');
  });
});
