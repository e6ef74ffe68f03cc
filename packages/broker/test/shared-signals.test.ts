import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { DELIVERY_METHODS, EVENT_TYPES } from '@baton/shared-signals';
import { createLocalJWKSet, createRemoteJWKSet, importJWK, jwtVerify, SignJWT } from 'jose';
import { type Broker, type BrokerOptions, startBroker } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { MemoryTokenRegistry } from '../src/registry/memory-registry.ts';
import { receiverAuthenticator } from '../src/shared-signals/receiver-token.ts';
import { generateSigningJwk } from '../src/signing-keys.ts';
import { type BrokerStores, openStores } from '../src/stores/open-stores.ts';
import { revoke, type ServiceClient, serviceClient, tokenRequest } from './fixtures/service-client.ts';

const BILLING_API = 'http://127.0.0.1:4103/api';

/**
 * Receivers are operator-listed static clients with client_credentials; a policy rule lets them hold a
 * service-identity token (any audience here, since the issuer, hence `<issuer>/ssf`, is known only
 * once the broker listens).
 */
const POLICY = `
@id("receiver-as-itself")
permit (principal == Baton::Client::"orders-receiver", action == Baton::Action::"exchange", resource)
when { context.mode == "service_identity" };

@id("unlisted-as-itself")
permit (principal == Baton::Client::"unlisted-service", action == Baton::Action::"exchange", resource)
when { context.mode == "service_identity" };
`;

async function brokerWith(
  receiver: ServiceClient,
  unlisted: ServiceClient,
  overrides: Partial<BrokerOptions> = {},
): Promise<Broker> {
  return startBroker({
    trustedIssuers: [],
    audiences: [{ resource: BILLING_API, scopes: ['billing:read'] }],
    policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
    audit: new MemoryAuditSink(),
    clients: [receiver.metadata, unlisted.metadata],
    initialAccessToken: 'ssf-test-initial-access-token',
    ...overrides,
    sharedSignals: {
      receivers: ['orders-receiver'],
      pushEndpointAllowed: (url) => url.hostname === '127.0.0.1',
      retry: { intervalMs: 20, initialBackoffMs: 20, maxBackoffMs: 100 },
      ...overrides.sharedSignals,
    },
  });
}

async function receiverToken(broker: Broker, client: ServiceClient, resource = `${broker.issuer}/ssf`) {
  const answer = await tokenRequest(broker.issuer, client, { grant_type: 'client_credentials', resource });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.access_token as string;
}

function call(broker: Broker, path: string, token: string | undefined, body?: unknown, method?: string) {
  return fetch(`${broker.issuer}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('the broker as a Shared Signals transmitter', () => {
  let receiver: ServiceClient;
  let unlisted: ServiceClient;
  let broker: Broker;
  let token: string;

  before(async () => {
    receiver = await serviceClient('orders-receiver', [], { grantTypes: ['client_credentials'] });
    unlisted = await serviceClient('unlisted-service', [], { grantTypes: ['client_credentials'] });
    broker = await brokerWith(receiver, unlisted);
    token = await receiverToken(broker, receiver);
  });
  after(() => broker?.close());

  it('serves its SSF configuration under its issuer, with its own JWKS', async () => {
    const response = await call(broker, '/.well-known/ssf-configuration', undefined);
    assert.equal(response.status, 200);
    const metadata = (await response.json()) as Record<string, unknown>;
    assert.equal(metadata.issuer, broker.issuer);
    assert.equal(metadata.jwks_uri, `${broker.issuer}/jwks`);
    assert.equal(metadata.configuration_endpoint, `${broker.issuer}/ssf/streams`);
    assert.equal(metadata.spec_version, '1_0');
  });

  it('delivers revocations on a poll stream as SETs signed with the broker key', async () => {
    const created = await call(broker, '/ssf/streams', token, {
      delivery: { method: DELIVERY_METHODS.poll },
    });
    assert.equal(created.status, 201);
    const stream = (await created.json()) as { stream_id: string; aud: string };
    assert.equal(stream.aud, 'orders-receiver');
    await broker.transmitter!.publish([{ kind: 'subject', value: 'bob' }], { reasonAdmin: 'offboarded' });
    const polled = await call(broker, `/ssf/poll/${stream.stream_id}`, token, { returnImmediately: true });
    assert.equal(polled.status, 200);
    const [set] = Object.values(((await polled.json()) as { sets: Record<string, string> }).sets);
    const { payload } = await jwtVerify(set!, createRemoteJWKSet(new URL(`${broker.issuer}/jwks`)), {
      issuer: broker.issuer,
      audience: 'orders-receiver',
      typ: 'secevent+jwt',
    });
    assert.ok(EVENT_TYPES.accountDisabled in (payload.events as object));
  });

  it('pushes SETs to a receiver endpoint (RFC 8935)', async () => {
    const received: string[] = [];
    let arrived!: () => void;
    const delivered = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const server: Server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      received.push(Buffer.concat(chunks).toString());
      response.writeHead(202).end();
      arrived();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
      const created = await call(broker, '/ssf/streams', token, {
        delivery: { method: DELIVERY_METHODS.push, endpoint_url: endpoint },
        events_requested: [EVENT_TYPES.clientRevoked],
      });
      assert.equal(created.status, 201);
      await broker.transmitter!.publish([{ kind: 'client', value: 'compromised-agent' }]);
      await delivered;
      const { payload } = await jwtVerify(
        received[0]!,
        createRemoteJWKSet(new URL(`${broker.issuer}/jwks`)),
        {
          issuer: broker.issuer,
          typ: 'secevent+jwt',
        },
      );
      assert.deepEqual(payload.sub_id, { format: 'opaque', id: 'compromised-agent' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a request without a token', async () => {
    const response = await call(broker, '/ssf/streams', undefined);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer');
  });

  it('refuses a broker token minted for another audience', async () => {
    const other = await receiverToken(broker, receiver, BILLING_API);
    const response = await call(broker, '/ssf/streams', other);
    assert.equal(response.status, 401);
  });

  it('refuses a static client the operator did not list as a receiver, even with an /ssf token', async () => {
    const unlistedToken = await receiverToken(broker, unlisted);
    const response = await call(broker, '/ssf/streams', unlistedToken, {
      delivery: { method: DELIVERY_METHODS.poll },
    });
    assert.equal(response.status, 401);
  });

  it('refuses a receiver token revoked at the broker (RFC 7009)', async () => {
    const revoked = await receiverToken(broker, receiver);
    assert.equal((await call(broker, '/ssf/streams', revoked)).status, 200);
    const answer = await revoke(broker.issuer, receiver, revoked);
    assert.equal(answer.status, 200);
    assert.equal((await call(broker, '/ssf/streams', revoked)).status, 401);
  });

  it('refuses to start with a receiver that is not a static client', async () => {
    await assert.rejects(
      brokerWith(receiver, unlisted, { sharedSignals: { receivers: ['registered-later'] } }),
      /not a static client/,
    );
  });
});

describe("the broker's streams live in its store", () => {
  let directory: string;
  let receiver: ServiceClient;
  let unlisted: ServiceClient;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'baton-ssf-'));
    receiver = await serviceClient('orders-receiver', [], { grantTypes: ['client_credentials'] });
    unlisted = await serviceClient('unlisted-service', [], { grantTypes: ['client_credentials'] });
  });
  after(() => rm(directory, { recursive: true, force: true }));

  it('keeps a stream and its queued SETs across a restart on the embedded store', async () => {
    const signingKeys = [await generateSigningJwk()];
    const start = async (port = 0) => {
      const stores: BrokerStores = await openStores({ kind: 'embedded', directory });
      const broker = await brokerWith(receiver, unlisted, {
        port,
        signingKeys,
        registry: stores.registry,
        adapter: stores.adapter,
        sharedSignals: { store: await stores.sharedSignalsStore() },
      });
      return { broker, stores };
    };
    const first = await start();
    const port = Number(first.broker.url.port);
    const token = await receiverToken(first.broker, receiver);
    const created = await call(first.broker, '/ssf/streams', token, {
      delivery: { method: DELIVERY_METHODS.poll },
    });
    const { stream_id: streamId } = (await created.json()) as { stream_id: string };
    await first.broker.transmitter!.publish([{ kind: 'session', value: 'sid-7' }]);
    await first.broker.close();
    await first.stores.close();

    const second = await start(port);
    try {
      const polled = await call(second.broker, `/ssf/poll/${streamId}`, token, { returnImmediately: true });
      assert.equal(polled.status, 200, 'the receiver token is still valid: the registry is durable too');
      const sets = ((await polled.json()) as { sets: Record<string, string> }).sets;
      assert.equal(Object.keys(sets).length, 1);
    } finally {
      await second.broker.close();
      await second.stores.close();
    }
  });
});

describe('receiverAuthenticator refuses every broker token that is not a listed service identity for <issuer>/ssf', () => {
  const issuer = 'https://broker.example';
  let signer: CryptoKey;
  let authenticate: ReturnType<typeof receiverAuthenticator>;
  let registry: MemoryTokenRegistry;

  before(async () => {
    const jwk = await generateSigningJwk();
    signer = (await importJWK(jwk as never, 'ES256')) as CryptoKey;
    const { d: _private, ...publicJwk } = jwk as Record<string, unknown>;
    registry = new MemoryTokenRegistry();
    authenticate = receiverAuthenticator({
      issuer,
      keys: createLocalJWKSet({ keys: [publicJwk as never] }),
      registry,
      receivers: new Set(['orders-receiver']),
    });
  });
  after(() => registry.close());

  async function tokenWith(claims: Record<string, unknown>, typ = 'at+jwt') {
    const jti = crypto.randomUUID();
    const now = Math.floor(Date.now() / 1000);
    await registry.record({
      jti,
      parent: null,
      root: `${issuer}#${jti}`,
      subject: String(claims.sub),
      clientId: String(claims.client_id),
      audience: `${issuer}/ssf`,
      exp: now + 60,
    });
    const token = await new SignJWT({ jti, ...claims })
      .setProtectedHeader({ alg: 'ES256', typ })
      .setIssuer(issuer)
      .setAudience(`${issuer}/ssf`)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(signer);
    return new Request(`${issuer}/ssf/streams`, { headers: { authorization: `Bearer ${token}` } });
  }

  it('admits the listed service identity', async () => {
    const request = await tokenWith({ sub: 'orders-receiver', client_id: 'orders-receiver' });
    assert.deepEqual(await authenticate(request), { receiverId: 'orders-receiver' });
  });

  it('refuses a token obtained for a person by exchange (sub is the person, act names the client)', async () => {
    const request = await tokenWith({ sub: 'alice', client_id: 'orders-receiver' });
    assert.equal(await authenticate(request), undefined);
    const acting = await tokenWith({
      sub: 'orders-receiver',
      client_id: 'orders-receiver',
      act: { sub: 'x' },
    });
    assert.equal(await authenticate(acting), undefined);
  });

  it('refuses a token that is not an access token (typ)', async () => {
    const request = await tokenWith({ sub: 'orders-receiver', client_id: 'orders-receiver' }, 'secevent+jwt');
    assert.equal(await authenticate(request), undefined);
  });
});
