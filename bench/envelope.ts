import { generateKeyPairSync, sign, verify } from 'node:crypto';
import {
  type EnvelopeAlgorithm,
  EnvelopeIssuer,
  EnvelopeKeyRing,
  keyRingResolver,
  verifyEnvelope,
} from '@baton/envelope';
import { fmt } from './stats.ts';

const BODY = {
  actor: { type: 'user' as const, sub: 'user-alice', tenant: 'acme' },
  agent: { type: 'ai_agent' as const, id: 'agent-1', client_id: 'agent-1' },
  session: { id: 'session-1', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
  authorization: { scopes: ['orders:read', 'orders:write'], confidence: 'medium' as const },
  delegation: { mode: 'service_identity' as const, allowed: ['https://orders-api.example'] },
};

function rate(iterations: number, run: () => unknown | Promise<unknown>): Promise<number> {
  return (async () => {
    for (let i = 0; i < Math.min(500, iterations); i++) await run();
    const started = performance.now();
    for (let i = 0; i < iterations; i++) await run();
    return iterations / ((performance.now() - started) / 1000);
  })();
}

/** EIE mint+verify against raw node:crypto sign+verify of the same bytes, same algorithm, same key type. */
export async function benchEnvelope(iterations = 20_000): Promise<Array<Record<string, string>>> {
  const rows: Array<Record<string, string>> = [];
  for (const algorithm of ['ES256', 'EdDSA'] as EnvelopeAlgorithm[]) {
    const ring = EnvelopeKeyRing.generate({ algorithm, retentionSeconds: 900 });
    const issuer = new EnvelopeIssuer({
      issuer: 'https://orders.example/mcp',
      trustDomain: 'bench',
      keys: ring,
    });
    const options = {
      issuer: 'https://orders.example/mcp',
      trustDomain: 'bench',
      keys: keyRingResolver(ring),
    };
    const payload = Buffer.from(issuer.mint(BODY).token.split('.').slice(0, 2).join('.'));
    const { privateKey, publicKey } =
      algorithm === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const digest = algorithm === 'EdDSA' ? null : 'sha256';
    const raw = await rate(iterations, () => {
      const signature = sign(digest, payload, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      if (!verify(digest, payload, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature))
        throw new Error('raw');
    });
    const envelope = await rate(iterations, async () => {
      await verifyEnvelope(issuer.mint(BODY).token, options);
    });
    rows.push({
      algorithm,
      'raw sign+verify /s': fmt(raw),
      'EIE mint+verify /s': fmt(envelope),
      'EIE / raw': `${fmt((100 * envelope) / raw, 1)} %`,
      target: '>= 50 %',
    });
  }
  return rows;
}
