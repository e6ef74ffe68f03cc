import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ACCESS_TOKEN_TYPE } from '../src/index.ts';
import { BROKER_SERIES } from '../src/operations/broker-metrics.ts';
import { openStores } from '../src/stores/open-stores.ts';
import { exchange } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';
import { POSTGRES_URL, REDIS_URL } from './stores/servers.ts';

const subjectOf = (token: string) => ({ subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE });

describe('broker health, readiness and metrics', () => {
  let stack: BrokerStack;
  before(async () => {
    stack = await startBrokerStack();
  });
  after(() => stack.close());

  it('/healthz answers 200 while the process serves', async () => {
    const response = await fetch(new URL('/healthz', stack.broker.url));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  it('/readyz is 200 with the signing keys loaded and no store to check (memory store)', async () => {
    const response = await fetch(new URL('/readyz', stack.broker.url));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      status: 'ready',
      checks: [{ name: 'signing_keys', ok: true }],
    });
  });

  it('a scrape after calls by alice and bob has every documented series and neither identity nor token', async () => {
    const tokens: string[] = [];
    for (const user of ['alice', 'bob']) {
      const userToken = await stack.userToken(user);
      tokens.push(userToken);
      const allowed = await exchange(stack.broker.issuer, stack.orders, {
        ...subjectOf(userToken),
        resource: BILLING_MCP,
        scope: 'orders:read',
      });
      assert.equal(allowed.status, 200, `${user}: ${JSON.stringify(allowed.body)}`);
      tokens.push(allowed.body.access_token as string);
      // Refused: the stranger is not in the token's audience.
      const refused = await exchange(stack.broker.issuer, stack.stranger, {
        ...subjectOf(userToken),
        resource: BILLING_MCP,
        scope: 'orders:read',
      });
      assert.equal(refused.status, 400);
    }
    const response = await fetch(new URL('/metrics', stack.broker.url));
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const scrape = await response.text();
    for (const series of BROKER_SERIES) assert.match(scrape, new RegExp(`^# TYPE ${series} `, 'm'));
    assert.match(
      scrape,
      /^baton_broker_exchange_duration_seconds_count\{grant_type="urn:ietf:params:oauth:grant-type:token-exchange",status="200"\} 2$/m,
    );
    assert.match(
      scrape,
      /^baton_broker_decisions_total\{action="token.exchange",outcome="ok",reason="none"\} 2$/m,
    );
    assert.match(scrape, /^baton_broker_refusals_total\{route="token",error="invalid_request"\} 2$/m);
    assert.match(
      scrape,
      /^baton_broker_decisions_total\{action="token.exchange",outcome="denied",reason="subject_not_for_client"\} 2$/m,
    );
    const subjects = tokens
      .slice(0, 1)
      .concat(tokens[2]!)
      .map((token) => String(decodeJwt(token).sub));
    for (const secret of [...tokens, ...subjects, 'alice', 'bob', 'orders-mcp', 'stranger-service']) {
      assert.equal(scrape.includes(secret), false, `the scrape contains ${secret.slice(0, 12)}…`);
    }
  });

  it('two brokers in one process keep their own registries', async () => {
    const other = await startBrokerStack();
    try {
      const scrape = await (await fetch(new URL('/metrics', other.broker.url))).text();
      assert.doesNotMatch(
        scrape,
        /^baton_broker_decisions_total\{/m,
        'the second broker counted nothing yet',
      );
      assert.notEqual(other.broker.metrics, stack.broker.metrics);
    } finally {
      await other.close();
    }
  });

  it('metrics: false serves no /metrics', async () => {
    const quiet = await startBrokerStack({ operations: { metrics: false } });
    try {
      assert.equal(quiet.broker.metrics, undefined);
      const response = await fetch(new URL('/metrics', quiet.broker.url));
      assert.notEqual(response.status, 200);
      await response.body?.cancel();
    } finally {
      await quiet.close();
    }
  });
});

/** A loopback TCP proxy to a real server, that can stop listening (a closed port) and listen again. */
class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly target: { host: string; port: number };
  port = 0;
  constructor(target: { host: string; port: number }) {
    this.target = target;
  }

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and cuts every connection: the port is closed. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

describe('broker readiness with PostgreSQL + Redis', () => {
  it('fails (503, naming postgres, no URL) while PostgreSQL is unreachable, and recovers', async () => {
    const target = new URL(POSTGRES_URL);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.listen();
    const proxied = new URL(POSTGRES_URL);
    proxied.port = String(proxy.port);
    const stores = await openStores({
      kind: 'postgres-redis',
      postgresUrl: proxied.href,
      redisUrl: REDIS_URL,
      tablePrefix: 'baton_ops_test_',
      keyPrefix: 'baton-ops-test:',
    });
    const stack = await startBrokerStack({
      registry: stores.registry,
      adapter: stores.adapter,
      operations: { readiness: stores.checks, readinessTimeoutMs: 1000, readinessCacheMs: 0 },
    });
    const readyz = async () => {
      const response = await fetch(new URL('/readyz', stack.broker.url));
      return { status: response.status, text: await response.text() };
    };
    try {
      const ready = await readyz();
      assert.equal(ready.status, 200, ready.text);
      assert.deepEqual(
        JSON.parse(ready.text).checks.map((check: { name: string }) => check.name),
        ['signing_keys', 'postgres', 'redis'],
      );

      await proxy.stop();
      const down = await readyz();
      assert.equal(down.status, 503);
      const body = JSON.parse(down.text);
      assert.equal(body.status, 'not_ready');
      const postgres = body.checks.find((check: { name: string }) => check.name === 'postgres');
      assert.equal(postgres.ok, false);
      assert.match(postgres.error, /^(ECONNREFUSED|ECONNRESET|timeout|failed|[A-Z0-9_]+)$/);
      assert.deepEqual(
        body.checks.filter((check: { ok: boolean }) => check.ok).map((check: { name: string }) => check.name),
        ['signing_keys', 'redis'],
      );
      assert.equal(down.text.includes(String(proxy.port)), false, 'no host or port in the body');
      assert.equal(down.text.includes('postgres://'), false);

      await proxy.listen();
      let recovered = await readyz();
      for (let tries = 0; recovered.status !== 200 && tries < 20; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        recovered = await readyz();
      }
      assert.equal(recovered.status, 200, recovered.text);
    } finally {
      await stack.close();
      await stores.close();
      await proxy.stop();
    }
  });
});
