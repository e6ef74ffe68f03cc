import { isIP } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { ClientTls } from '@baton/mcp-server';
import {
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
  pinnedMutualTlsDispatcher,
  serverTlsOptions,
  type WorkloadCertificate,
} from '@baton/workload-identity';

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
  /** Its X.509 SVID and key (PEM), from the demo CA. Undefined without the PKI. */
  certificate?: WorkloadCertificate;
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
  /**
   * `fetch` for what is not a hop (the identity provider pushing its Security Event Tokens to the
   * broker): it trusts the demo CA, so it reaches the hops, but presents no certificate.
   */
  fetchTrustingCa: typeof fetch;
  /**
   * Names the hop serving `url`'s origin. A hop's `fetch` and `clientTls` reach an https origin only
   * when the server's certificate names that hop's SPIFFE ID: every hop's certificate chains to the
   * demo CA and names the same host, so the CA and host name alone would let any hop that takes another
   * one's port receive its callers' requests (subject tokens, client assertions). An https origin never
   * named here is refused.
   */
  pin(url: string, hop: DemoHop): void;
  close(): Promise<void>;
}

/** The SPIFFE ID of a demo hop. */
export function spiffeIdOf(hop: DemoHop): string {
  return `spiffe://${TRUST_DOMAIN}/${hop}`;
}

/** How long the demo's CA and certificates live: made at start, for one run (rotation is not shown). */
const LIFETIME_SECONDS = 7 * 24 * 3600;

/**
 * The one place the demo's workload identities come from: an internal CA made at start
 * (`@baton/workload-identity`, never written to disk) and an X.509 SVID for each hop, naming the host
 * clients reach the demo by. Each hop serves HTTPS requiring a client certificate from this CA, and
 * calls the others presenting its own. With `mutualTls: false` every hop keeps its SPIFFE ID (for the
 * walk-through and the audit) and speaks plain HTTP.
 */
export async function startDemoPki(options: { publicHost: string; mutualTls?: boolean }): Promise<DemoPki> {
  if (options.mutualTls === false) {
    const identities = Object.fromEntries(
      DEMO_HOPS.map((hop) => [
        hop,
        { hop, spiffeId: spiffeIdOf(hop), fetch: (input, init) => fetch(input, init) } satisfies HopIdentity,
      ]),
    ) as Record<DemoHop, HopIdentity>;
    return {
      trustDomain: TRUST_DOMAIN,
      identities,
      fetchTrustingCa: (input, init) => fetch(input, init),
      pin: () => {},
      close: async () => {},
    };
  }
  const ca = await createCertificateAuthority({
    trustDomain: TRUST_DOMAIN,
    lifetimeSeconds: LIFETIME_SECONDS,
  });
  const host = options.publicHost.replace(/^\[|\]$/g, '');
  // Each certificate names the host every URL names, so a client's name check passes.
  const names = isIP(host)
    ? { ipAddresses: [host], dnsNames: ['localhost'] }
    : { dnsNames: [...new Set([host, 'localhost'])] };
  const dispatchers: Array<{ close(): Promise<void> }> = [];
  const identities = {} as Record<DemoHop, HopIdentity>;
  /** The SPIFFE ID of the hop serving each origin, as `pin` named it: every hop's calls read it. */
  const routes = new Map<string, string>();
  for (const hop of DEMO_HOPS) {
    const certificate = await issueWorkloadCertificate(ca, {
      spiffeId: spiffeIdOf(hop),
      ...names,
      // Within the CA's lifetime: issued a moment after it.
      lifetimeSeconds: LIFETIME_SECONDS - 120,
    });
    const dispatcher = pinnedMutualTlsDispatcher({
      identity: certificate,
      ca: ca.certificatePem,
      servers: routes,
    });
    dispatchers.push(dispatcher);
    identities[hop] = {
      hop,
      spiffeId: certificate.spiffeId,
      certificate,
      serverTls: serverTlsOptions({
        identity: certificate,
        ca: ca.certificatePem,
        requireClientCertificate: true,
      }),
      clientTls: { certificate: certificate.certificatePem, dispatcher },
      // Node's fetch takes undici's `dispatcher`; the DOM `RequestInit` type does not name it.
      fetch: (input, init) => fetch(input, { ...init, dispatcher } as RequestInit),
    };
  }
  const anonymous = mutualTlsDispatcher({ ca: ca.certificatePem });
  dispatchers.push(anonymous);
  return {
    trustDomain: TRUST_DOMAIN,
    caPem: ca.certificatePem,
    identities,
    fetchTrustingCa: (input, init) => fetch(input, { ...init, dispatcher: anonymous } as RequestInit),
    pin(url, hop) {
      routes.set(new URL(url).origin, spiffeIdOf(hop));
    },
    async close() {
      await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
    },
  };
}
