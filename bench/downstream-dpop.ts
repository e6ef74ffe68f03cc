import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, LogAuditSink } from '@baton/audit';
import { type DpopKey, dpopKey, serviceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { DownstreamClient, type DownstreamService, startHopSpan } from '@baton/mcp-server';
import { exportJWK, generateKeyPair } from 'jose';
import { indexServices } from '../packages/mcp-server/src/downstream/services.ts';
import { TokenCache } from '../packages/mcp-server/src/downstream/token-cache.ts';
import { fmt, summarize } from './stats.ts';

const MCP = 'http://127.0.0.1:4501/mcp';

/**
 * What DPoP (RFC 9449) costs the calling MCP server per downstream call: signing one proof per request
 * (by algorithm), and a whole downstream call with a DPoP-bound token against the same call with a
 * bearer token, warm token cache, against an API that answers without checking (its side is H1's
 * `dpop` section). The broker here is a stub token endpoint: with a warm cache it is never asked.
 */
export async function benchDownstreamDpop(calls = 2000): Promise<Array<Record<string, string>>> {
  const rows: Array<Record<string, string>> = [];
  const keys: Record<string, DpopKey> = {};
  for (const alg of ['ES256', 'Ed25519', 'PS256']) {
    keys[alg] = await keyFor(alg);
    const key = keys[alg]!;
    const url = 'http://127.0.0.1:4003/api/orders';
    for (let i = 0; i < 200; i++) await key.proof({ method: 'GET', url, accessToken: 'token' });
    const samples: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await key.proof({ method: 'GET', url, accessToken: 'token' });
      samples.push(performance.now() - t0);
    }
    const { p50, p99 } = summarize(samples);
    rows.push({
      measure: `proof signing, ${alg}`,
      'p50 ms': fmt(p50, 3),
      'p99 ms': fmt(p99, 3),
      'added p50 ms': '—',
    });
  }

  // A stub token endpoint: DPoP-bound when the request proved a key, as a broker answers.
  let issued = 0;
  const broker = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      issued += 1;
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          access_token: `token-${issued}`,
          token_type: request.headers.dpop ? 'DPoP' : 'Bearer',
          expires_in: 3600,
        }),
      );
    });
  });
  const api = createServer((_request, response) => response.end('{}'));
  const listen = async (server: ReturnType<typeof createServer>) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const brokerUrl = await listen(broker);
  const apiUrl = `${await listen(api)}/api`;
  const credentials = await serviceCredentials('orders-mcp');
  const silent = new LogAuditSink(
    createLogger({ name: 'bench', destination: { write: () => true } as never }),
  );
  const envelopes = new EnvelopeIssuer({
    issuer: MCP,
    trustDomain: 'bench',
    keys: EnvelopeKeyRing.generate({ retentionSeconds: 900 }),
  });
  const body = {
    actor: { type: 'user' as const, sub: 'user-alice', tenant: 'acme' },
    agent: { type: 'ai_agent' as const, id: 'agent-1', client_id: 'agent-1' },
    session: { id: 's', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    authorization: { scopes: ['orders:read'], confidence: 'medium' as const },
    delegation: { mode: 'on_behalf_of' as const, allowed: [apiUrl] },
  };
  const measure = async (service: DownstreamService) => {
    const services = [service];
    const settings = {
      options: { broker: { issuer: brokerUrl, credentials }, services },
      services: indexServices(services),
      serviceTokens: new TokenCache(),
      delegatedTokens: new TokenCache(),
      audit: silent,
      component: MCP,
    };
    const minted = envelopes.mint(body);
    const call = async () => {
      const client = new DownstreamClient(
        {
          envelope: minted.envelope,
          envelopeToken: () => minted.token,
          subjectToken: 'subject',
          subjectIssuer: 'http://127.0.0.1:9',
          hop: startHopSpan('bench', 'server', { traceId: body.session.trace_id, parentSpanId: undefined }),
        },
        settings,
      );
      const response = await client.fetch('api', 'orders');
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`bench call failed: ${response.status}`);
    };
    for (let i = 0; i < 200; i++) await call(); // warm caches and JIT
    const samples: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await call();
      samples.push(performance.now() - t0);
    }
    return summarize(samples);
  };
  const base = { name: 'api', url: apiUrl, mode: 'on_behalf_of' as const, scopes: ['orders:read'] };
  const bearer = await measure(base);
  rows.push({
    measure: 'downstream call, bearer token (warm cache)',
    'p50 ms': fmt(bearer.p50, 3),
    'p99 ms': fmt(bearer.p99, 3),
    'added p50 ms': '—',
  });
  for (const alg of ['ES256', 'Ed25519']) {
    const dpop = await measure({ ...base, senderConstraint: { dpop: await keyFor(alg) } });
    rows.push({
      measure: `downstream call, DPoP-bound token, ${alg} proof (warm cache)`,
      'p50 ms': fmt(dpop.p50, 3),
      'p99 ms': fmt(dpop.p99, 3),
      'added p50 ms': fmt(dpop.p50 - bearer.p50, 3),
    });
  }
  for (const server of [broker, api]) {
    server.closeAllConnections();
    server.close();
  }
  return rows;
}

/** A DPoP key (`dpopKey` of `@baton/broker-client`, the one proof builder) for one JWS algorithm. */
async function keyFor(alg: string): Promise<DpopKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return dpopKey({ ...(await exportJWK(privateKey)), alg });
}
