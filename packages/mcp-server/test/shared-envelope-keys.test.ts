import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import { type ServiceCredentials, serviceClientMetadata, serviceCredentials } from '@baton/broker-client';
import { type DemoIdp, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { type DownstreamVerifier, downstreamVerifier } from '@baton/downstream-verifier';
import {
  EnvelopeIssuer,
  EnvelopeKeyRing,
  type EnvelopeKeys,
  SharedEnvelopeKeys,
  TXN_TOKEN_HEADER,
} from '@baton/envelope';
import { BearerError, jwtAccessTokenVerifier } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { IdentityBoundary } from '../src/index.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

/**
 * Issue #13 item 2: two boundary instances behind one URL (a round-robin loopback proxy), a downstream
 * API whose verifier fetches the envelope JWKS through that URL, and service-identity calls from tools
 * on both instances, each carrying a `Txn-Token` envelope its instance signed.
 */

const TRUST_DOMAIN = 'baton.test';
const SCOPE = 'orders:read';
/** Each instance re-reads the key file this often. */
const RELOAD_SECONDS = 0.2;
/** The verifier uses a fetched JWKS this long. */
const VERIFIER_CACHE_SECONDS = 1;
/** Publish-before-sign: reload interval + verifier cache age, rounded up (no HTTP cache in between). */
const PROPAGATION_SECONDS = 2;
/** Envelope lifetime, and how long a rotated-out key stays published past it. */
const TTL_SECONDS = 2;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A tiny round-robin reverse proxy: each request goes to the next backend, as a load balancer would. */
function roundRobinProxy(backends: () => readonly string[], served: string[]): Server {
  let next = 0;
  return createServer((incoming, outgoing) => {
    const list = backends();
    const backend = list[next++ % list.length]!;
    served.push(`${backend} ${incoming.url}`);
    const target = new URL(incoming.url ?? '/', backend);
    const forwarded = httpRequest(
      target,
      { method: incoming.method, headers: incoming.headers },
      (answer: IncomingMessage) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.writeHead(502).end());
    incoming.pipe(forwarded);
  });
}

/** What the API saw for one call: verified or refused, and the envelope's `kid`. */
interface ApiCall {
  verified: boolean;
  kid: string;
  reason?: string;
}

function kidOf(token: string | null): string {
  if (!token) return '';
  const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as {
    kid?: string;
  };
  return header.kid ?? '';
}

/** A tool call's answer: which instance ran it and what the API said. */
interface CallAnswer {
  instance: string;
  status: number;
  kid: string;
}

async function answerOf(response: Response): Promise<CallAnswer> {
  const raw = await response.text();
  const data = raw.startsWith('{')
    ? raw
    : (raw.split('\n').find((line) => line.startsWith('data: ')) ?? '').slice(6);
  const text = (JSON.parse(data) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text;
  return JSON.parse(text) as CallAnswer;
}

describe('envelope keys shared by two boundary instances behind one URL', () => {
  let directory: string;
  let idp: DemoIdp;
  let broker: Broker;
  let service: ServiceCredentials;
  let proxy: Server;
  let proxyOrigin: string;
  let resource: string;
  let api: Server;
  let apiUrl: string;
  const apiCalls: ApiCall[] = [];
  const served: string[] = [];
  let backends: string[] = [];
  let verifier: DownstreamVerifier | undefined;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'baton-fleet-keys-'));
    proxy = roundRobinProxy(() => backends, served);
    proxyOrigin = await listen(proxy);
    resource = `${proxyOrigin}/mcp`;
    api = createServer();
    apiUrl = `${await listen(api)}/api`;
    idp = await startDemoIdp({ resources: [{ resource, scopes: [SCOPE] }] });
    service = await serviceCredentials('orders-mcp');
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [{ resource: apiUrl, scopes: [SCOPE] }],
      policy: createCedarPolicyEngine({
        policies: `@id("orders-mcp-as-itself")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource)
when { context.mode == "service_identity" && context.scope == "${SCOPE}" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: new MemoryAuditSink(),
      clients: [
        serviceClientMetadata({
          clientId: service.clientId,
          jwks: service.jwks,
          resources: [resource],
          grantTypes: ['client_credentials'],
          scopes: [SCOPE],
        }),
      ],
      initialAccessToken: 'fleet-keys-test-initial-access-token',
    });
    api.on('request', (request, response) => {
      const headers = new Headers(request.headers as Record<string, string>);
      const kid = kidOf(headers.get(TXN_TOKEN_HEADER));
      verifier!.verify(headers, [SCOPE]).then(
        () => {
          apiCalls.push({ verified: true, kid });
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kid }));
        },
        (error: unknown) => {
          const reason = error instanceof BearerError ? error.reason : 'error';
          apiCalls.push({ verified: false, kid, reason });
          response.writeHead(error instanceof BearerError ? error.status : 500).end(JSON.stringify({ kid }));
        },
      );
    });
  });
  after(async () => {
    for (const server of [proxy, api]) await close(server);
    await broker.close();
    await idp.close();
    await rm(directory, { recursive: true, force: true });
  });

  /** One boundary instance: its own HTTP server and MCP SDK server, the fleet's resource URL. */
  async function startInstance(name: string, keys: EnvelopeKeys) {
    const http = createServer();
    const url = await listen(http);
    const boundary = new IdentityBoundary({
      resource,
      authorizationServers: [idp.issuer],
      tokenVerifier: jwtAccessTokenVerifier({ issuer: idp.issuer, audience: resource }),
      envelopes: new EnvelopeIssuer({
        issuer: resource,
        trustDomain: TRUST_DOMAIN,
        keys,
        ttlSeconds: TTL_SECONDS,
      }),
      audit: new MemoryAuditSink(),
      logger: createLogger({ name, level: 'silent' }),
      scopesSupported: [SCOPE],
      delegation: { mode: 'service_identity', allowed: [apiUrl] },
      downstream: {
        broker: { issuer: broker.issuer, credentials: service },
        services: [{ name: 'orders-api', url: apiUrl, mode: 'service_identity', scopes: [SCOPE] }],
      },
    });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 'orders', version: '1' });
      boundary.registerTool(server, 'call_api', { scopes: [SCOPE] }, async (_invocation, context) => {
        const response = await context.downstream.fetch('orders-api');
        const { kid } = (await response.json()) as { kid: string };
        const answer: CallAnswer = { instance: name, status: response.status, kid };
        return { content: [{ type: 'text', text: JSON.stringify(answer) }] };
      });
      return server;
    });
    serveNodeRequests(http, boundary.protect(mcp));
    return {
      url,
      async close() {
        await mcp.close();
        await close(http);
      },
    };
  }

  async function startFleet(keysFor: () => Promise<EnvelopeKeys>) {
    const [keysA, keysB] = await Promise.all([keysFor(), keysFor()]);
    const instances = [await startInstance('a', keysA!), await startInstance('b', keysB!)];
    backends = instances.map((instance) => instance.url);
    // The API: a downstream verifier (a fresh JWKS cache per fleet) fetching the JWKS through the one URL.
    verifier = downstreamVerifier({
      audience: apiUrl,
      broker: { issuer: broker.issuer },
      serviceIdentity: {
        trustDomain: TRUST_DOMAIN,
        callers: [
          {
            clientId: service.clientId,
            envelopeIssuer: resource,
            envelopeJwksUri: `${proxyOrigin}/.well-known/jwks.json`,
            envelopeJwksCacheMaxAgeSeconds: VERIFIER_CACHE_SECONDS,
          },
        ],
      },
    });
    return {
      keys: [keysA!, keysB!],
      async close() {
        for (const instance of instances) await instance.close();
        for (const keys of [keysA, keysB]) if (keys instanceof SharedEnvelopeKeys) keys.close();
      },
    };
  }

  const userToken = async () =>
    (
      await obtainUserAccessToken(idp, {
        username: 'alice',
        password: 'alice-demo-pw',
        resource,
        scope: SCOPE,
      })
    ).access_token;
  const callTool = async (token: string) =>
    answerOf(await fetch(toolCallRequest(resource, token, 'call_api')));

  /** The JWKS each instance publishes, fetched through the one URL until both have answered. */
  async function publishedKids(): Promise<Map<string, string[]>> {
    const byInstance = new Map<string, string[]>();
    while (byInstance.size < 2) {
      const before = served.length;
      const response = await fetch(`${proxyOrigin}/.well-known/jwks.json`);
      const jwks = (await response.json()) as { keys: Array<Record<string, unknown>> };
      assert.ok(
        jwks.keys.every((key) => !('d' in key)),
        'the JWKS holds no private member',
      );
      byInstance.set(served[before]!.split(' ')[0]!, jwks.keys.map((key) => String(key.kid)).sort());
    }
    return byInstance;
  }

  it("without shared keys, the verifier refuses the other instance's envelopes (the problem)", async () => {
    const fleet = await startFleet(async () => EnvelopeKeyRing.generate({ retentionSeconds: 600 }));
    try {
      apiCalls.length = 0;
      const token = await userToken();
      const answers = [];
      for (let call = 0; call < 6; call += 1) answers.push(await callTool(token));
      assert.deepEqual(new Set(answers.map((answer) => answer.instance)), new Set(['a', 'b']));
      assert.ok(
        apiCalls.some((call) => !call.verified),
        'an instance whose keys the fetched JWKS lacks is refused',
      );
    } finally {
      await fleet.close();
    }
  });

  it('with one key file, envelopes from both instances verify, through stage → rotate without one refusal, and the old key retires after retention', async () => {
    const path = join(directory, 'orders-mcp', 'envelope-keys.json');
    const fleet = await startFleet(() =>
      SharedEnvelopeKeys.fromKeyFile(path, {
        retentionSeconds: TTL_SECONDS,
        reloadIntervalSeconds: RELOAD_SECONDS,
        propagationSeconds: PROPAGATION_SECONDS,
      }),
    );
    let stopTraffic = async () => {};
    try {
      const [a, b] = fleet.keys as [SharedEnvelopeKeys, SharedEnvelopeKeys];
      const oldKid = a.signingKey.kid;
      assert.equal(b.signingKey.kid, oldKid, 'both instances sign with the key the first one created');
      apiCalls.length = 0;
      const token = await userToken();

      // Calls keep flowing through both instances during the whole rotation.
      const answers: CallAnswer[] = [];
      let running = true;
      const traffic = (async () => {
        while (running) answers.push(await callTool(token));
      })();
      // A failed assertion must not leave calls running into the next test's count.
      stopTraffic = async () => {
        running = false;
        await traffic.catch(() => {});
      };
      const waitForCalls = async (count: number) => {
        const target = answers.length + count;
        while (answers.length < target) await sleep(10);
      };
      await waitForCalls(6);
      const stageStarted = Date.now();
      const newKid = await a.stageNextKey();
      await assert.rejects(
        a.rotate(),
        { code: 'ERR_ENVELOPE_ROTATION_REFUSED' },
        'too early to sign with it',
      );
      // Every instance publishes the staged key within its reload interval.
      await sleep(RELOAD_SECONDS * 1000 + 100);
      for (const kids of (await publishedKids()).values()) assert.deepEqual(kids, [oldKid, newKid].sort());
      await sleep(Math.max(0, stageStarted + PROPAGATION_SECONDS * 1000 + 50 - Date.now()));
      // The rotation is done by the other instance: any instance may rotate the shared file. It counts
      // the propagation from when it first saw the key (its reload, in whole seconds), which on a loaded
      // machine may come later than the stage: it is asked again until its own count allows it.
      let rotated: string | undefined;
      for (let attempt = 0; rotated === undefined; attempt++) {
        try {
          rotated = await b.rotate();
        } catch (error) {
          if ((error as { code?: string }).code !== 'ERR_ENVELOPE_ROTATION_REFUSED' || attempt >= 50)
            throw error;
          await sleep(200);
        }
      }
      assert.equal(rotated, newKid);
      const rotatedAt = Date.now();
      // Its next reload picks the rotation up; on a loaded machine a reload can come late, so wait for it
      // (bounded) rather than for one fixed interval.
      const pickedUpBy = Date.now() + 10_000;
      while (a.signingKey.kid !== newKid && Date.now() < pickedUpBy) await sleep(50);
      assert.equal(a.signingKey.kid, newKid, 'the first instance picked up the rotation');
      await waitForCalls(8);
      running = false;
      await traffic;

      const refused = apiCalls.filter((call) => !call.verified);
      assert.deepEqual(refused, [], 'no envelope was refused at any point of the rotation');
      for (const instance of ['a', 'b']) {
        const kids = new Set(
          answers.filter((answer) => answer.instance === instance).map((answer) => answer.kid),
        );
        assert.deepEqual(
          kids,
          new Set([oldKid, newKid]),
          `instance ${instance} signed with both keys, in turn`,
        );
      }
      assert.ok(answers.every((answer) => answer.status === 200));

      // The old key stays published for the reload interval + retention after the rotation, then leaves.
      for (const kids of (await publishedKids()).values()) assert.deepEqual(kids, [oldKid, newKid].sort());
      const retiresAt = rotatedAt + (Math.ceil(RELOAD_SECONDS) + TTL_SECONDS + 1) * 1000;
      await sleep(Math.max(0, retiresAt - Date.now()));
      for (const kids of (await publishedKids()).values()) assert.deepEqual(kids, [newKid]);
      // And calls still verify with the new key alone.
      apiCalls.length = 0;
      for (let call = 0; call < 4; call += 1) assert.equal((await callTool(token)).kid, newKid);
      assert.ok(apiCalls.every((call) => call.verified));
    } finally {
      await stopTraffic();
      await fleet.close();
    }
  });

  it("two instances given the operator's JWKS sign with its first key and publish the same set", async () => {
    const jwk = {
      ...(EnvelopeKeyRing.generate({ retentionSeconds: 60 }).signingKey.privateKey.export({
        format: 'jwk',
      }) as object),
      alg: 'ES256',
    };
    const document = JSON.stringify({ keys: [jwk] });
    const fleet = await startFleet(async () =>
      SharedEnvelopeKeys.fromJwks(document, {
        retentionSeconds: TTL_SECONDS,
        description: 'BATON_ENVELOPE_JWKS',
      }),
    );
    try {
      apiCalls.length = 0;
      const token = await userToken();
      const answers = [];
      for (let call = 0; call < 6; call += 1) answers.push(await callTool(token));
      assert.deepEqual(new Set(answers.map((answer) => answer.instance)), new Set(['a', 'b']));
      assert.equal(apiCalls.length, 6);
      assert.ok(apiCalls.every((call) => call.verified));
      const published = [...(await publishedKids()).values()];
      assert.deepEqual(published[0], published[1]);
    } finally {
      await fleet.close();
    }
  });
});
