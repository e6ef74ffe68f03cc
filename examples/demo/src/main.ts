import { createLogger } from '@baton/audit';
import { DEMO_USERS, startDemoIdp } from '@baton/demo-idp';
import { runAgent } from './agent.ts';
import { authenticateOrdersMcp, startDemoBroker } from './broker.ts';
import { demoConfig } from './config.ts';
import { consoleLogDestination, printedAuditSink } from './console-log.ts';
import { listenOrdersMcp, ORDERS_SCOPES, serveOrdersMcp } from './orders-mcp.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const config = demoConfig();

const { http, url: ordersUrl } = await listenOrdersMcp(config.host, config.ordersMcpPort);
const idp = await startDemoIdp({
  host: config.host,
  port: config.idpPort,
  resources: [{ resource: ordersUrl, scopes: ORDERS_SCOPES }],
  onError: (error) => out(`[idp] error ${(error as Error)?.name ?? 'unknown'}`),
});
const audit = printedAuditSink(out);
const orders = serveOrdersMcp({
  http,
  url: ordersUrl,
  issuer: idp.issuer,
  audit,
  logger: createLogger({
    name: 'orders-mcp',
    destination: consoleLogDestination('  [orders-mcp]', out) as never,
  }),
});

const demoBroker = await startDemoBroker({
  host: config.host,
  port: config.brokerPort,
  idpIssuer: idp.issuer,
  ordersMcpResource: orders.url,
  audit,
});
const serviceTokenLifetime = await authenticateOrdersMcp(demoBroker);

out('Baton demo: identity from the person, through the agent, to the tool.');
out();
out(`identity provider   ${idp.issuer}   (users: alice / alice-demo-pw, bob / bob-demo-pw)`);
out(`orders MCP server   ${orders.url}`);
out(`  resource metadata ${orders.boundary.resourceMetadataUrl}`);
out(`  envelope JWKS     ${orders.boundary.envelopeJwksUrl}`);
out(
  `token broker        ${demoBroker.broker.issuer}   (RFC 8414 metadata at /.well-known/oauth-authorization-server)`,
);
out(
  `  orders MCP server authenticated with private_key_jwt (service identity token, ${serviceTokenLifetime} s)`,
);
out();

const plan = [{ tool: 'list_orders' }, { tool: 'create_order', arguments: { item: 'trail map' } }];
for (const user of [DEMO_USERS.alice, DEMO_USERS.bob]) {
  out(`── ${user.name} (${user.username}) asks the agent to list and place orders`);
  const run = await runAgent(orders.url, { username: user.username, password: user.password }, plan, (line) =>
    out(`  agent: ${line}`),
  );
  for (const step of run.steps) out(`  ${step.ok ? '✓' : '✗'} ${step.tool}: ${step.text}`);
  out();
}

const byUser = new Map<string, number>();
for (const event of audit.events) byUser.set(event.initiator.sub, (byUser.get(event.initiator.sub) ?? 0) + 1);
out(
  `audit: ${audit.events.length} tool events (${[...byUser].map(([sub, count]) => `${sub}: ${count}`).join(', ')})`,
);

if (config.once) {
  await orders.close();
  await demoBroker.broker.close();
  await idp.close();
} else {
  out();
  out(`Ready. Point any MCP client at ${orders.url} and sign in as alice or bob. Ctrl-C to stop.`);
  const stop = async () => {
    await orders.close();
    await demoBroker.broker.close();
    await idp.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
