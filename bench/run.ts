/**
 * `npm run bench`: the numbers the closing notes report. Not a test: nothing here passes or fails,
 * it measures on this machine and prints.
 */

import { benchAuditStores } from '../packages/audit-store/bench.ts';
import { benchVault } from '../packages/vault/bench.ts';
import { benchBroker } from './broker.ts';
import { benchDownstream } from './downstream.ts';
import { benchEnvelope } from './envelope.ts';
import { benchToolCalls } from './tool-call.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
out(`Baton benchmarks — node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
out();
out('Execution Identity Envelope: mint + verify vs raw node:crypto sign + verify (sequential, one core)');
console.table(await benchEnvelope());
out(
  'Tool calls over keep-alive HTTP (JSON-RPC tools/call), 8 concurrent connections, median of 15 alternating rounds',
);
console.table(await benchToolCalls());
out(
  'Token broker: RFC 8693 exchanges (private_key_jwt client, IdP subject token) on one core vs the bare bound',
);
console.table(await benchBroker());
out('Downstream calls: each delegation mode, warm caches, tool call to verified API answer, vs a plain call');
console.table(await benchDownstream());
out('Token vault: envelope encryption put/get rates');
console.table(await benchVault());
out('Audit stores: durable, hash-chained writes (8 concurrent writers) vs a no-op sink');
console.table(await benchAuditStores());
