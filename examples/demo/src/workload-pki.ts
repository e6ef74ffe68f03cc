import type { TlsOptions } from 'node:tls';
import type { ClientTls } from '@baton/mcp-server';

/** The demo's trust domain: its workloads' SPIFFE IDs and its envelopes' `iss` trust domain. */
export const TRUST_DOMAIN = 'baton.demo';

/** The Baton hops of the demo, each a workload with its own identity. */
export const DEMO_HOPS = ['orders-mcp', 'billing-mcp', 'broker', 'orders-api', 'billing-api'] as const;
export type DemoHop = (typeof DEMO_HOPS)[number];

/**
 * One hop's workload identity: its SPIFFE ID (`spiffe://baton.demo/<hop>`), and with the internal PKI
 * its certificate, served to callers and presented to the hops it calls (mutual TLS).
 */
export interface HopIdentity {
  hop: DemoHop;
  spiffeId: string;
  /**
   * `https.createServer` options: this hop's certificate, and client certificates from the demo CA
   * required in the handshake. Undefined without the PKI (plain HTTP).
   */
  serverTls?: TlsOptions;
  /** What this hop presents when it calls another hop (the downstream client's `tls`). */
  clientTls?: ClientTls;
  /** `fetch` as this hop: over connections presenting its certificate, trusting only the demo CA. */
  fetch: typeof fetch;
}

/** The demo's workload identities. */
export interface DemoPki {
  trustDomain: string;
  /** The internal CA's certificate (PEM), every hop's trust anchor. Undefined without the PKI. */
  caPem?: string;
  identities: Record<DemoHop, HopIdentity>;
  close(): Promise<void>;
}

/** The SPIFFE ID of a demo hop. */
export function spiffeIdOf(hop: DemoHop): string {
  return `spiffe://${TRUST_DOMAIN}/${hop}`;
}

/**
 * The one place the demo's workload identities come from. Without the internal PKI every hop keeps its
 * SPIFFE ID (for the walk-through and the audit) and speaks plain HTTP.
 */
export async function startDemoPki(_options: { publicHost: string }): Promise<DemoPki> {
  const identities = Object.fromEntries(
    DEMO_HOPS.map((hop) => [
      hop,
      { hop, spiffeId: spiffeIdOf(hop), fetch: (input, init) => fetch(input, init) },
    ]),
  ) as Record<DemoHop, HopIdentity>;
  return { trustDomain: TRUST_DOMAIN, identities, close: async () => {} };
}
