import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, LogAuditSink } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { IdentityBoundary } from '@baton/mcp-server';
import {
  type DpopReplayStore,
  jwtAccessTokenVerifier,
  MemoryDpopReplayStore,
  SenderConstraints,
} from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { type RedisDpopReplayClient, RedisDpopReplayStore } from '@baton/resource-server/redis';
import { DpopSession } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createClient } from 'redis';
import { fmt } from './stats.ts';

const ISSUER = 'https://idp.bench';
const RESOURCE = 'https://orders.bench/mcp';
const NONCE_SECRET = 'the bench nonce secret, at least 32 bytes long';
const ROUNDS = 9;

/** One measured way of handling a request: `prepare` makes a round's inputs (proofs are single-use). */
interface Variant {
  name: string;
  /** Whether this row is a baseline (bearer or a floor), not a DPoP cost. */
  baseline?: 'bearer' | 'floor';
  /** What the row's cost is compared with. */
  against?: string;
  prepare(calls: number): Promise<() => Promise<void>>;
}

/**
 * The per-request cost of checking a DPoP proof (issue #14), against a bearer token on the same path.
 * At the resource-server core: read `Authorization`/`DPoP`, verify the access token (a warm
 * `VerifiedTokenCache`, as in steady state), then the sender-constraint check (proof signature with its
 * embedded key, `htm`/`htu`/`iat`/`ath`, the RFC 7638 thumbprint, the replay store). One level up: a
 * `tools/call` over keep-alive HTTP through the identity boundary. Proofs are made by the SDK client's
 * `DpopSession` before the clock starts (each is good for one request). Sequential, one process;
 * variants rotate through `ROUNDS` rounds and each row is the median round, so a busy machine skews
 * them alike. "DPoP cost" is a row's median minus its bearer baseline's.
 */
export async function benchDpop(calls = 2_000): Promise<Array<Record<string, string>>> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const session = await DpopSession.create();
  const mint = (audience: string, cnf?: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'user-alice',
      client_id: 'agent-1',
      scope: 'orders:read',
      jti: randomUUID(),
      ...(cnf ? { cnf } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
  const redis = createClient({ url: 'redis://127.0.0.1:6379' });
  await redis.connect();
  const http = await boundaryOverHttp(jwk);
  try {
    const variants = [
      ...(await coreVariants(session, jwk, mint, redis)),
      ...(await httpVariants(session, mint, http.resource)),
    ];
    const samples = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
    const perRound = Math.max(100, Math.floor(calls / ROUNDS));
    for (const variant of variants) await (await variant.prepare(100))(); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of variants) {
        const run = await variant.prepare(perRound);
        const started = performance.now();
        await run();
        samples.get(variant.name)!.push(((performance.now() - started) * 1000) / perRound);
      }
    }
    const median = (name: string) => {
      const sorted = [...samples.get(name)!].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)]!;
    };
    return variants.map((variant) => {
      const us = median(variant.name);
      return {
        request: variant.name,
        'µs / call (median)': fmt(us, 1),
        'calls / s': fmt(1e6 / us),
        'DPoP cost µs': variant.against ? fmt(us - median(variant.against), 1) : '—',
      };
    });
  } finally {
    await http.close();
    await redis.close();
  }
}

/** The resource-server core: bearer, the node:crypto floor, and DPoP with each replay store, with and without nonces. */
async function coreVariants(
  session: DpopSession,
  jwk: Record<string, unknown>,
  mint: (audience: string, cnf?: Record<string, unknown>) => Promise<string>,
  redis: RedisDpopReplayClient,
): Promise<Variant[]> {
  const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: RESOURCE, jwks: { keys: [jwk] } });
  const bearer = await mint(RESOURCE);
  const bound = await mint(RESOURCE, { jkt: session.thumbprint });
  const BEARER = 'core: bearer token (no proof)';
  const bearerConstraints = new SenderConstraints();
  const bearerHeaders = new Headers({ authorization: `Bearer ${bearer}` });
  const variants: Variant[] = [
    {
      name: BEARER,
      baseline: 'bearer',
      async prepare(calls) {
        return async () => {
          for (let i = 0; i < calls; i++) {
            const presented = bearerConstraints.presented(bearerHeaders);
            const claims = await verifier.verify(presented.token);
            await bearerConstraints.check(claims.claims, presented, { method: 'POST', htu: RESOURCE });
          }
        };
      },
    },
    {
      // What a proof cannot cost less than: one ES256 signature check with node:crypto.
      name: 'floor: one raw ES256 verify (node:crypto)',
      baseline: 'floor',
      async prepare(calls) {
        const key = createPublicKey({ key: session.publicJwk as never, format: 'jwk' });
        const proof = await session.buildProof({ htm: 'POST', htu: RESOURCE, accessToken: bound });
        const [head, body, signature] = proof.split('.') as [string, string, string];
        const input = Buffer.from(`${head}.${body}`);
        const bytes = Buffer.from(signature, 'base64url');
        return async () => {
          for (let i = 0; i < calls; i++)
            if (!verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, bytes)) throw new Error('raw');
        };
      },
    },
  ];
  const stores: Array<[string, DpopReplayStore]> = [
    ['memory', new MemoryDpopReplayStore()],
    ['Redis', new RedisDpopReplayStore({ redis, keyPrefix: `baton:bench:dpop:${randomUUID()}:` })],
  ];
  for (const [storeName, replay] of stores) {
    for (const nonces of [false, true]) {
      const constraints = new SenderConstraints({
        dpop: { replay, ...(nonces ? { nonces: { secret: NONCE_SECRET } } : {}) },
      });
      variants.push({
        name: `core: DPoP, ${storeName} replay store${nonces ? ', server nonces' : ''}`,
        against: BEARER,
        async prepare(calls) {
          const nonce = constraints.freshNonce();
          const requests: Headers[] = [];
          for (let i = 0; i < calls; i++) {
            const proof = await session.buildProof({
              htm: 'POST',
              htu: RESOURCE,
              accessToken: bound,
              ...(nonce ? { nonce } : {}),
            });
            requests.push(new Headers({ authorization: `DPoP ${bound}`, dpop: proof }));
          }
          return async () => {
            for (const headers of requests) {
              const presented = constraints.presented(headers);
              const claims = await verifier.verify(presented.token);
              await constraints.check(claims.claims, presented, { method: 'POST', htu: RESOURCE });
            }
          };
        },
      });
    }
  }
  return variants;
}

/** A `tools/call` over keep-alive HTTP through the identity boundary, bearer and DPoP. */
async function httpVariants(
  session: DpopSession,
  mint: (audience: string, cnf?: Record<string, unknown>) => Promise<string>,
  resource: string,
): Promise<Variant[]> {
  const bearer = await mint(resource);
  const bound = await mint(resource, { jkt: session.thumbprint });
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'list_orders', arguments: {} },
  });
  const send = async (headers: Record<string, string>) => {
    const response = await fetch(resource, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body,
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`tool call answered ${response.status}`);
  };
  const BEARER = 'tools/call over HTTP: bearer token';
  return [
    {
      name: BEARER,
      baseline: 'bearer',
      async prepare(calls) {
        return async () => {
          for (let i = 0; i < calls; i++) await send({ authorization: `Bearer ${bearer}` });
        };
      },
    },
    {
      name: 'tools/call over HTTP: DPoP, memory replay store',
      against: BEARER,
      async prepare(calls) {
        const proofs: string[] = [];
        for (let i = 0; i < calls; i++)
          proofs.push(await session.buildProof({ htm: 'POST', htu: resource, accessToken: bound }));
        return async () => {
          for (const proof of proofs) await send({ authorization: `DPoP ${bound}`, dpop: proof });
        };
      },
    },
  ];
}

/** The identity boundary (Node adapter, envelope, audit to a discarding logger) with DPoP on, over HTTP. */
async function boundaryOverHttp(jwk: Record<string, unknown>) {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const resource = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  const silent = createLogger({ name: 'bench', level: 'info', destination: { write: () => true } as never });
  const boundary = new IdentityBoundary({
    resource,
    authorizationServers: [ISSUER],
    tokenVerifier: jwtAccessTokenVerifier({ issuer: ISSUER, audience: resource, jwks: { keys: [jwk] } }),
    envelopes: new EnvelopeIssuer({
      issuer: resource,
      trustDomain: 'bench',
      keys: EnvelopeKeyRing.generate({ retentionSeconds: 900 }),
    }),
    audit: new LogAuditSink(silent),
    logger: silent,
    senderConstraint: { dpop: { replay: new MemoryDpopReplayStore() } },
  });
  const mcp = createMcpHandler(() => {
    const server = new McpServer({ name: 'orders', version: '1' });
    boundary.registerTool(server, 'list_orders', { scopes: ['orders:read'] }, async ({ identity }) => ({
      content: [{ type: 'text', text: identity.actor.sub }],
    }));
    return server;
  });
  serveNodeRequests(http, boundary.protect(mcp));
  return {
    resource,
    async close() {
      await mcp.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
