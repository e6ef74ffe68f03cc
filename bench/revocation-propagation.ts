import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeRequestListener } from '@baton/resource-server/node';
import {
  createPushEndpoint,
  EVENT_TYPES,
  MemoryReplayGuard,
  type RevocationChange,
  RevocationFeed,
} from '@baton/shared-signals';
import { RedisRevocationChannel } from '@baton/shared-signals/redis';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { fmt, summarize } from './stats.ts';

const RECEIVERS = 3;
const ISSUER = 'https://broker.bench';
const AUDIENCE = 'https://receiver.bench';

/**
 * Revocation propagation to three receivers, receiver side: from the moment a revocation is sent
 * until each receiver's list refuses the token. SSF push: a SET minted (ES256) and POSTed to each
 * receiver's RFC 8935 endpoint over keep-alive HTTP (verified, applied, 202). Redis: `XADD` to the
 * deployment's stream, three subscribers blocked in `XREAD`. The broker's transmitter (queueing,
 * retries) is measured with the broker.
 */
export async function benchRevocationPropagation(rounds = 300): Promise<Array<Record<string, string>>> {
  return [await push(rounds), ...(await redis(rounds))];
}

async function push(rounds: number): Promise<Record<string, string>> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] });
  const servers: Server[] = [];
  const receivers: { url: string; feed: RevocationFeed }[] = [];
  for (let i = 0; i < RECEIVERS; i++) {
    const feed = new RevocationFeed();
    const handler = createPushEndpoint({
      feed,
      verify: { issuer: ISSUER, audience: AUDIENCE, keys, replay: new MemoryReplayGuard() },
    });
    const server = createServer(nodeRequestListener({ fetch: handler }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    receivers.push({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`, feed });
  }
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const token = randomUUID();
    const started = performance.now();
    const jwt = await new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      sub_id: { format: 'opaque', id: token },
      events: { [EVENT_TYPES.tokensRevoked]: { tokens: [{ jti: token }] } },
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'secevent+jwt', kid: 'k' })
      .sign(privateKey);
    await Promise.all(
      receivers.map(async ({ url, feed }) => {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
          body: jwt,
        });
        await response.body?.cancel();
        if (response.status !== 202 || !feed.list.check({ jti: token })) throw new Error('push not applied');
        if (round > 10) samples.push(performance.now() - started);
      }),
    );
  }
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  return row('SSF push (RFC 8935) over HTTP', samples);
}

async function redis(rounds: number): Promise<Array<Record<string, string>>> {
  const key = `baton-bench:revocations:${randomUUID()}`;
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const publisher = new RedisRevocationChannel({ redis: url, key });
  const channels = Array.from({ length: RECEIVERS }, () => new RedisRevocationChannel({ redis: url, key }));
  const feeds = channels.map((channel) => {
    const feed = new RevocationFeed();
    channel.subscribe(feed);
    return feed;
  });
  try {
    await publisher.publish({ add: [], lift: [] });
  } catch {
    await Promise.all([publisher.close(), ...channels.map((channel) => channel.close())]);
    return [{ path: 'Redis stream (skipped: no Redis)', 'p50 ms': '', 'p99 ms': '', samples: '0' }];
  }
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const token = randomUUID();
    const change: RevocationChange = { add: [{ kind: 'jti', value: token }], lift: [] };
    const started = performance.now();
    const seen = feeds.map(
      (feed) =>
        new Promise<void>((resolve) => {
          const stop = feed.list.onChange(({ added }) => {
            if (!added.some((revocation) => revocation.value === token)) return;
            stop();
            if (round > 10) samples.push(performance.now() - started);
            resolve();
          });
        }),
    );
    await publisher.publish(change);
    await Promise.all(seen);
  }
  await Promise.all([publisher.close(), ...channels.map((channel) => channel.close())]);
  return [row('Redis stream (XADD → XREAD BLOCK)', samples)];
}

function row(path: string, samples: number[]): Record<string, string> {
  const { p50, p99 } = summarize(samples);
  return {
    path: `${path}, ${RECEIVERS} receivers`,
    'p50 ms': fmt(p50, 2),
    'p99 ms': fmt(p99, 2),
    samples: fmt(samples.length),
  };
}
