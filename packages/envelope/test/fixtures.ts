import type { EnvelopeBody } from '../src/index.ts';

export const TRUST_DOMAIN = 'baton.test';
export const ISSUER = 'http://127.0.0.1:4001/mcp';

export function aliceBody(): EnvelopeBody {
  return {
    actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
    agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
    session: { id: 'session-1', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    authorization: { scopes: ['orders:read', 'orders:write'], confidence: 'medium' },
    delegation: { mode: 'service_identity', allowed: ['https://orders-api.example'] },
  };
}

/** A mutable clock in Unix seconds. */
export function testClock(start = 1_800_000_000): { now: () => number; advance: (seconds: number) => void } {
  let current = start;
  return {
    now: () => current,
    advance: (seconds) => {
      current += seconds;
    },
  };
}
