/**
 * `npm run bench`: the numbers the closing notes report. Not a test: nothing here passes or fails,
 * it measures on this machine and prints. `npm run bench -- tool-calls broker` runs only those sections
 * (names: envelope, tool-calls, broker, downstream, downstream-dpop, store, vault, revocation-check,
 * revocation-end-to-end, audit-stores,
 * dlp, rate-limits, tls, dpop).
 */

import { benchAuditStores } from '../packages/audit-store/bench.ts';
import { benchVault } from '../packages/vault/bench.ts';
import { benchBroker } from './broker.ts';
import { benchDlp, benchRateLimits } from './dlp.ts';
import { benchDownstream } from './downstream.ts';
import { benchDownstreamDpop } from './downstream-dpop.ts';
import { benchDpop } from './dpop.ts';
import { benchEnvelope } from './envelope.ts';
import { benchRevocationCheck } from './revocation-check.ts';
import { benchRevocationEndToEnd } from './revocation-end-to-end.ts';
import { benchStore } from './store.ts';
import { benchTls } from './tls.ts';
import { benchToolCalls } from './tool-call.ts';

const sections: Array<[name: string, title: string, run: () => Promise<unknown>]> = [
  [
    'envelope',
    'Execution Identity Envelope: mint + verify vs raw node:crypto sign + verify (sequential, one core)',
    benchEnvelope,
  ],
  [
    'tool-calls',
    'Tool calls over keep-alive HTTP (JSON-RPC tools/call), 8 concurrent connections, medians of 15 rotating rounds',
    benchToolCalls,
  ],
  [
    'broker',
    'Token broker: RFC 8693 exchanges (private_key_jwt client, IdP subject token) on one core vs the bare bound',
    benchBroker,
  ],
  [
    'downstream',
    'Downstream calls: each delegation mode, warm caches, tool call to verified API answer, vs a plain call',
    benchDownstream,
  ],
  [
    'downstream-dpop',
    'Downstream calls with DPoP (RFC 9449) at the calling server: proof signing per algorithm, and a DPoP-bound call vs a bearer call, warm cache',
    benchDownstreamDpop,
  ],
  [
    'store',
    "Broker's embedded store: PGlite (the broker's PostgreSQL code) vs node:sqlite, sequential operations",
    benchStore,
  ],
  ['vault', 'Token vault: envelope encryption put/get rates', benchVault],
  [
    'revocation-check',
    'Revocation check per request (target < 5 µs): 10,000 entries held, three-hop claims',
    benchRevocationCheck,
  ],
  [
    'revocation-end-to-end',
    'Revocation propagation from broker.revoke to three receivers, end to end (registry, audit, SET queueing, delivery): per receiver',
    benchRevocationEndToEnd,
  ],
  [
    'audit-stores',
    'Audit stores: durable, hash-chained writes (8 concurrent writers) vs a no-op sink',
    benchAuditStores,
  ],
  [
    'dlp',
    'Data loss prevention per 10 KB tool result (budget ≤ 1 ms): secretlint recommended rules + PII detectors',
    benchDlp,
  ],
  [
    'rate-limits',
    'Rate limits per tool call: person + agent + tool limiters, memory vs Redis',
    benchRateLimits,
  ],
  [
    'tls',
    'Mutual TLS per request between hops: plain HTTP vs HTTPS with a required client certificate (full handshake, TLS 1.3 session resumption, keep-alive), sequential on 127.0.0.1',
    benchTls,
  ],
  [
    'dpop',
    'DPoP proof verification per call at a resource server (token verification warm), vs a bearer token, sequential',
    benchDpop,
  ],
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !sections.some(([known]) => known === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown bench section ${unknown.join(', ')}; known: ${sections.map(([n]) => n).join(', ')}\n`,
  );
  process.exit(2);
}
const out = (line = '') => process.stdout.write(`${line}\n`);
out(`Baton benchmarks — node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
for (const [name, title, run] of sections) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  out();
  out(title);
  console.table(await run());
}
