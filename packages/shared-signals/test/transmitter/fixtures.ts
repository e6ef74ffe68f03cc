import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeRequestListener } from '@baton/resource-server/node';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWTVerifyGetKey } from 'jose';
import pg from 'pg';
import {
  type Revocation,
  SharedSignalsTransmitter,
  type SharedSignalsTransmitterOptions,
  SqlStreamStore,
  type StreamStore,
} from '../../src/index.ts';

/** Bearer tokens the fixture's `authenticate` accepts, and the receiver each names. */
export const RECEIVERS = { 'token-a': 'receiver-a', 'token-b': 'receiver-b' } as const;
export const TOKEN_A = 'token-a';
export const TOKEN_B = 'token-b';

export interface SigningKey {
  options: SharedSignalsTransmitterOptions['key'];
  jwks: JWTVerifyGetKey;
}

export async function signingKey(kid = 'ssf-key-1'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { options: { key: privateKey, kid, alg: 'ES256' }, jwks: createLocalJWKSet({ keys: [jwk] }) };
}

export interface RunningTransmitter {
  transmitter: SharedSignalsTransmitter;
  url: string;
  /** A fetch to the transmitter as a receiver (`token` undefined: unauthenticated). */
  call(path: string, init?: { method?: string; body?: unknown; token?: string }): Promise<Response>;
  close(): Promise<void>;
}

/** A transmitter behind `node:http` on 127.0.0.1, its issuer this server (or `issuer`). */
export async function startTransmitter(
  options: Partial<SharedSignalsTransmitterOptions> & { key: SharedSignalsTransmitterOptions['key'] },
): Promise<RunningTransmitter> {
  const server = createServer();
  await listen(server, 0);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? url;
  const transmitter = new SharedSignalsTransmitter({
    issuer,
    jwksUri: `${issuer}/jwks`,
    authenticate: async (request) => {
      const token = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
      const receiverId = token ? RECEIVERS[token as keyof typeof RECEIVERS] : undefined;
      return receiverId ? { receiverId } : undefined;
    },
    currentRevocations: async () => [],
    // Loopback receivers in tests; the default admits https only.
    pushEndpointAllowed: (candidate) => candidate.hostname === '127.0.0.1',
    retry: { intervalMs: 20, initialBackoffMs: 20, maxBackoffMs: 100 },
    ...options,
  });
  server.on('request', nodeRequestListener({ fetch: (request) => transmitter.handle(request) }));
  return {
    transmitter,
    url,
    call(path, init = {}) {
      return fetch(`${url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
    },
    async close() {
      await transmitter.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An RFC 8935 push receiver: records every SET it is sent, answering with `answer` (default 202). */
export interface PushReceiver {
  url: string;
  port: number;
  received: { set: string; contentType: string | undefined; authorization: string | undefined }[];
  answer: { status: number; body?: unknown };
  /** Resolves once `count` SETs have arrived. */
  waitFor(count: number): Promise<void>;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

export async function startPushReceiver(port = 0): Promise<PushReceiver> {
  const received: PushReceiver['received'] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  let server: Server;
  const receiver: PushReceiver = {
    url: '',
    port,
    received,
    answer: { status: 202 },
    waitFor(count) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      await start(receiver.port);
    },
  };
  const start = async (at: number) => {
    server = createServer(async (request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const { status, body } = receiver.answer;
      if (status === 202) {
        received.push({
          set: Buffer.concat(chunks).toString('utf8'),
          contentType: request.headers['content-type'],
          authorization: request.headers.authorization,
        });
      }
      response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      response.end(body === undefined ? undefined : JSON.stringify(body));
      for (const wait of [...waiting]) {
        if (received.length >= wait.count) {
          waiting.splice(waiting.indexOf(wait), 1);
          wait.resolve();
        }
      }
    });
    await listen(server, at);
    receiver.port = (server.address() as AddressInfo).port;
    receiver.url = `http://127.0.0.1:${receiver.port}/events`;
  };
  await start(port);
  return receiver;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/** A store for the conformance suite: its name, and a factory giving a fresh, empty store. */
export interface StoreKind {
  name: string;
  open(): Promise<{ store: StreamStore; close(): Promise<void> }>;
}

export const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A unique table prefix per store, so tests never share rows. */
export function uniquePrefix(): string {
  return `t_ssf_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}_`;
}

export const STORE_KINDS: StoreKind[] = [
  {
    name: 'memory',
    async open() {
      const { MemoryStreamStore } = await import('../../src/index.ts');
      return { store: new MemoryStreamStore(), close: async () => {} };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
      const prefix = uniquePrefix();
      const store = await SqlStreamStore.create({ pool, tablePrefix: prefix });
      return {
        store,
        async close() {
          await pool.query(`DROP TABLE ${prefix}ssf_queue, ${prefix}ssf_streams, ${prefix}schema_migrations`);
          await pool.end();
        },
      };
    },
  },
];

/** Revocations as a broker might hold them. */
export const ALICE_DISABLED: Revocation = { kind: 'subject', value: 'alice' };
