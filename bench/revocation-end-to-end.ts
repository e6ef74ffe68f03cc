import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryAuditSink } from '@baton/audit';
import { type Broker, sharedSignalsAudience, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import { serviceClientMetadata, serviceCredentials, serviceTokenSource } from '@baton/broker-client';
import { nodeRequestListener } from '@baton/resource-server/node';
import { type ConnectedRevocationFeed, connectRevocationFeed, RevocationList } from '@baton/shared-signals';
import { RedisRevocationChannel } from '@baton/shared-signals/redis';
import { fmt, summarize } from './stats.ts';

const RECEIVERS = 3;
const ROUNDS = 200;

/**
 * Revocation propagation from the broker to three receivers, end to end: from the call of
 * `broker.revoke` (registry write, audit, Shared Signals queueing) until each receiver's revocation
 * list holds the entry (its `onChange`), per receiver. Paths: in process (an `onRevocation` listener
 * adding to three lists: the broker's own cost), SSF poll (RFC 8936, the demo's default: long polls
 * answered as the SET is queued), SSF push (RFC 8935, the broker POSTs a SET to each receiver's
 * endpoint over HTTP), Redis (an `onRevocation` listener publishing on the deployment's stream, three
 * subscribers).
 */
export async function benchRevocationEndToEnd(): Promise<Array<Record<string, string>>> {
  const receivers = await Promise.all(
    Array.from({ length: RECEIVERS }, (_, index) => serviceCredentials(`receiver-${index + 1}`)),
  );
  const broker = await startBroker({
    trustedIssuers: [],
    audiences: [{ resource: 'https://api.bench', scopes: [] }],
    policy: createCedarPolicyEngine({
      policies: `@id("receivers") permit (principal, action == Baton::Action::"exchange", resource) when { context.mode == "service_identity" };`,
      defaults: { lifetimeSeconds: 300, maxDepth: 2 },
    }),
    audit: new MemoryAuditSink(),
    clients: receivers.map((credentials) =>
      serviceClientMetadata({
        clientId: credentials.clientId,
        jwks: credentials.jwks,
        resources: ['https://api.bench'],
        grantTypes: ['client_credentials'],
      }),
    ),
    initialAccessToken: randomUUID(),
    sharedSignals: {
      pushEndpointAllowed: (url) => url.hostname === '127.0.0.1',
      retry: { intervalMs: 50, initialBackoffMs: 50, maxBackoffMs: 500 },
    },
  });
  const rows: Array<Record<string, string>> = [];
  try {
    const inProcess = Array.from({ length: RECEIVERS }, () => new RevocationList());
    const stop = broker.onRevocation(({ added }) => {
      for (const list of inProcess) list.add(added);
    });
    rows.push(row('in process (onRevocation listener)', await measure(broker, inProcess)));
    stop();

    const token = (index: number) =>
      serviceTokenSource(broker.issuer, receivers[index]!, {
        resource: sharedSignalsAudience(broker.issuer),
      });
    const polled = await Promise.all(
      receivers.map((_, index) =>
        connectRevocationFeed({
          transmitter: broker.issuer,
          getAccessToken: token(index),
          delivery: 'poll',
          maxStalenessMs: 30_000,
        }),
      ),
    );
    rows.push(
      row(
        'SSF poll (RFC 8936), long poll',
        await measure(
          broker,
          polled.map(({ feed }) => feed.list),
        ),
      ),
    );
    await closeAll(polled);

    const servers: Server[] = [];
    const pushed: ConnectedRevocationFeed[] = [];
    for (let index = 0; index < RECEIVERS; index++) {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const connected = await connectRevocationFeed({
        transmitter: broker.issuer,
        getAccessToken: token(index),
        delivery: { push: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ssf/push` },
        maxStalenessMs: 30_000,
      });
      server.on('request', nodeRequestListener({ fetch: connected.pushHandler! }));
      servers.push(server);
      pushed.push(connected);
    }
    rows.push(
      row(
        'SSF push (RFC 8935) over HTTP',
        await measure(
          broker,
          pushed.map(({ feed }) => feed.list),
        ),
      ),
    );
    await closeAll(pushed);
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }

    rows.push(await redisRow(broker));
  } finally {
    await broker.close();
  }
  return rows;
}

async function redisRow(broker: Broker): Promise<Record<string, string>> {
  const key = `baton-bench:revocations:${randomUUID()}`;
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const publisher = new RedisRevocationChannel({ redis: url, key });
  const channels = Array.from({ length: RECEIVERS }, () => new RedisRevocationChannel({ redis: url, key }));
  const lists = channels.map((channel) => {
    const list = new RevocationList();
    channel.subscribe(list);
    return list;
  });
  try {
    await publisher.publish({ add: [], lift: [] });
  } catch {
    await Promise.all([publisher.close(), ...channels.map((channel) => channel.close())]);
    return {
      path: 'Redis stream (skipped: no Redis)',
      'p50 ms': '',
      'p99 ms': '',
      'max ms': '',
      samples: '0',
    };
  }
  const stop = broker.onRevocation(({ added, lifted }) =>
    publisher.publish({ add: [...added], lift: [...lifted] }),
  );
  try {
    return row('Redis stream (XADD → XREAD BLOCK)', await measure(broker, lists));
  } finally {
    stop();
    await Promise.all([publisher.close(), ...channels.map((channel) => channel.close())]);
  }
}

/** Revokes a fresh subject per round; the time until each list holds it, per list. */
async function measure(broker: Broker, lists: RevocationList[]): Promise<number[]> {
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const subject = `bench-${randomUUID()}`;
    const started = performance.now();
    const seen = lists.map(
      (list) =>
        new Promise<void>((resolve) => {
          const stop = list.onChange(({ added }) => {
            if (!added.some((revocation) => revocation.value === subject)) return;
            stop();
            if (round >= 10) samples.push(performance.now() - started);
            resolve();
          });
        }),
    );
    await broker.revoke({ subject }, { actor: 'bench' });
    await Promise.all(seen);
  }
  return samples;
}

async function closeAll(feeds: ConnectedRevocationFeed[]): Promise<void> {
  await Promise.all(feeds.map((connected) => connected.close()));
}

function row(path: string, samples: number[]): Record<string, string> {
  const { p50, p99 } = summarize(samples);
  return {
    path: `${path}, ${RECEIVERS} receivers`,
    'p50 ms': fmt(p50, 2),
    'p99 ms': fmt(p99, 2),
    'max ms': fmt(Math.max(...samples), 2),
    samples: fmt(samples.length),
  };
}
