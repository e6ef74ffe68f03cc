import { createLogger, MemoryAuditSink } from '@baton/audit';
import { DEMO_AUDITOR, DEMO_USERS, loopbackTls } from '@baton/demo-idp';
import { onShutdownSignal } from '@baton/resource-server/operations';
import { runAgent } from './agent.ts';
import { approveAs } from './approver.ts';
import { prepareAuditConsole } from './audit-console.ts';
import { serviceTokenLifetime } from './broker.ts';
import { demoConfig, exposureWarning, isLoopback } from './config.ts';
import { consoleLogDestination, printedAuditSink } from './console-log.ts';
import { openDemoAudit } from './demo-audit.ts';
import { offboard } from './offboarding.ts';
import { MY_PIPELINE } from './orders-mcp.ts';
import { startTopology } from './topology.ts';
import type { DemoHop } from './workload-pki.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const config = demoConfig();
process.stderr.write(exposureWarning(config) ?? '');
// Every hop's audit events: durable and hash-chained (the embedded store, or PostgreSQL scaled out;
// for the console and `npm run baton -- audit …`), and printed as they happen.
const dataDir = process.env.BATON_DATA_DIR ?? '.baton';
const memory = new MemoryAuditSink();
const store = await openDemoAudit(dataDir, config.scaleOut, [memory, printedAuditSink(out)]);
const audit = store.writer('demo');
// Bound first: the IdP registers the console's redirect URI when it starts.
const consoleAtIdp = await prepareAuditConsole(config.host, config.consolePort, config.publicHost);
// The agent is identified by a Client ID Metadata Document it serves over https on 127.0.0.1 (MCP
// 2026-07-28); the IdP fetches documents from that host only, trusting this certificate only.
const agentTls = await loopbackTls();
const demo = await startTopology(config, {
  audit,
  auditOf: (writer) => store.writer(writer),
  dataDir,
  logs: (component) => consoleLogDestination(`  [${component}]`, out),
  idp: { ...consoleAtIdp.idp, clientIdMetadataDocuments: { allowedHosts: ['127.0.0.1'], ca: agentTls.cert } },
});
const serviceToken = await serviceTokenLifetime(
  demo.broker,
  demo.broker.ordersMcp,
  demo.urls.ordersApi,
  demo.pki.identities['orders-mcp'].fetch,
);
const auditConsole = await consoleAtIdp.start({
  issuer: demo.idp.issuer,
  reader: store.reader,
  audit,
  logger: createLogger({
    name: 'audit-console',
    destination: consoleLogDestination('  [audit-console]', out),
  }),
});
const auditor = `${DEMO_AUDITOR.username} / ${DEMO_AUDITOR.password}`;

out('Baton demo: identity from the person, through the agent, across every hop.');
out();
out(
  `identity provider   ${demo.idp.issuer}   (users: alice / alice-demo-pw, bob / bob-demo-pw; auditor: ${auditor})`,
);
out(
  `token broker        ${demo.broker.issuer}   (RFC 8414 metadata at /.well-known/oauth-authorization-server)`,
);
if (demo.balancers) {
  out(`  load balancer in front of ${demo.balancers.broker.upstreams.join(', ')} (PostgreSQL + Redis)`);
}
out(`orders MCP server   ${demo.urls.ordersMcp}`);
if (demo.balancers) {
  out(`  load balancer in front of ${demo.balancers.ordersMcp.upstreams.join(', ')} (one envelope key)`);
}
out(`  resource metadata ${demo.ordersMcp.boundary.resourceMetadataUrl}`);
out(`  envelope JWKS     ${demo.ordersMcp.boundary.envelopeJwksUrl}`);
out(`billing MCP server  ${demo.urls.billingMcp}`);
out(`orders API          ${demo.urls.ordersApi}   (service identity + Txn-Token envelope)`);
out(`billing API         ${demo.urls.billingApi}   (on-behalf-of tokens from the broker)`);
out(
  `  orders MCP server authenticated to the broker with private_key_jwt (service identity token, ${serviceToken} s)`,
);
out(`audit console       ${auditConsole.url}   (sign in as the auditor ${auditor}: tenant acme, audit:read)`);
out();
out(
  demo.pki.caPem
    ? 'workload identities (X.509 SVIDs from an internal CA made at start; mutual TLS between hops):'
    : 'workload identities (SPIFFE IDs; plain HTTP between hops):',
);
const servedAt: Record<DemoHop, string> = {
  'orders-mcp': demo.urls.ordersMcp,
  'billing-mcp': demo.urls.billingMcp,
  broker: demo.broker.issuer,
  'orders-api': demo.urls.ordersApi,
  'billing-api': demo.urls.billingApi,
};
for (const identity of Object.values(demo.pki.identities)) {
  const url = servedAt[identity.hop];
  // The agent-facing endpoint stays plain HTTP on loopback (MCP clients accept it there); the hops
  // behind it take only callers with a certificate from the demo CA.
  const how = !url.startsWith('https:')
    ? 'serves HTTP (agent-facing, loopback); presents its certificate when it calls'
    : identity.hop === 'broker'
      ? 'serves HTTPS, verifies client certificates (tls_client_auth, cnf.x5t#S256)'
      : 'serves HTTPS, client certificate required';
  out(`  ${identity.spiffeId.padEnd(34)} ${how}`);
}
out();

const plan = [
  { tool: 'list_orders' },
  { resource: MY_PIPELINE },
  { prompt: 'review_my_orders' },
  { tool: 'create_order', arguments: { item: 'trail map' } },
  // More than 10: the tool policy (orders-mcp-tools.cedar) asks the person to approve it first.
  { tool: 'create_order', arguments: { item: 'tent peg', quantity: 40 } },
  { tool: 'order_summary' },
];
// The SDK client refuses a plain-http token endpoint off loopback (see the exposure warning).
// The walk-through's own traces: not the calls replayed to time the offboarding below.
let walkThroughEvents = Number.POSITIVE_INFINITY;
for (const user of isLoopback(config.publicHost) ? [DEMO_USERS.alice, DEMO_USERS.bob] : []) {
  out(
    `── ${user.name} (${user.username}) asks the agent for their orders, two new orders (one large), and what they owe`,
  );
  const run = await runAgent(
    demo.urls.ordersMcp,
    { username: user.username, password: user.password },
    plan,
    (line) => out(`  agent: ${line}`),
    {
      approve: approveAs(user, (line) => out(`  person: ${line}`)),
      clientMetadataDocument: { tls: agentTls },
    },
  );
  for (const step of run.steps) out(`  ${step.ok ? '✓' : '✗'} ${step.tool}: ${step.text}`);
  out();
  if (user === DEMO_USERS.bob && run.accessToken) {
    walkThroughEvents = memory.events.length;
    out('── bob is offboarded midway: an administrator disables his account at the identity provider');
    out('  identity provider → broker: RISC account-disabled (a Security Event Token, pushed)');
    out('  broker → every hop: the revocation, audited, as a SET on each hop’s Shared Signals stream');
    for (const refused of await offboard(demo, user.sub, run.accessToken)) {
      out(
        refused.afterMs === undefined
          ? `  ✗ ${refused.hop.padEnd(30)} still served bob after 5 s`
          : `  ✓ ${refused.hop.padEnd(30)} refused his next call after ${refused.afterMs.toFixed(1)} ms (${refused.answer})`,
      );
    }
    out();
  }
}

const byUser = new Map<string, number>();
for (const event of memory.events)
  byUser.set(event.initiator.sub, (byUser.get(event.initiator.sub) ?? 0) + 1);
const actions = new Map<string, number>();
for (const event of memory.events) actions.set(event.action, (actions.get(event.action) ?? 0) + 1);
out(
  `audit: ${memory.events.length} events (${[...actions].map(([action, count]) => `${action}: ${count}`).join(', ')}; ` +
    `${[...byUser].map(([sub, count]) => `${sub}: ${count}`).join(', ')})`,
);

if (demo.balancers) {
  // Round robin: every instance took its share, as each load balancer counted.
  const { broker, ordersMcp } = demo.balancers;
  out(
    `load balancers (requests per instance): token broker ${broker.counts.join(' + ')}, orders MCP server ${ordersMcp.counts.join(' + ')}`,
  );
}

out();
out(
  `traces of the demo, kept in ${store.where} (drawn in the console; on the command line: npm run baton -- audit trace <id>):`,
);
for (const event of memory.events
  .slice(0, walkThroughEvents)
  .filter((candidate) => candidate.action === 'tool.invoke' && !candidate.parent_span_id)) {
  out(
    `  ${event.trace_id}  ${event.initiator.sub.padEnd(10)}  ${event.target.name.padEnd(13)}  ${new URL(`traces/${event.trace_id}`, auditConsole.url)}`,
  );
}

if (config.once) {
  await auditConsole.close();
  await demo.close();
  await store.close();
} else {
  // SIGTERM/SIGINT: each server stops accepting and finishes its requests in flight, then the audit
  // store writes its final checkpoint and releases its lock; each step is logged.
  onShutdownSignal(
    createLogger({ name: 'shutdown', destination: consoleLogDestination('  [shutdown]', out) }),
    [
      { name: 'audit console', run: () => auditConsole.close() },
      { name: 'services', run: () => demo.close() },
      { name: 'audit', run: () => store.close() },
    ],
  );
  out();
  out(`Ready. Point any MCP client at ${demo.urls.ordersMcp} and sign in as alice or bob. Ctrl-C to stop.`);
  out(`Read the audit trail at ${auditConsole.url}, signed in as ${auditor}.`);
}
