import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditEvent, auditEventOf } from '@baton/audit';
import { type IdentityGraph, identityGraph } from '../src/graph.ts';
import { orderHops } from '../src/hops.ts';
import { tracePage } from '../src/trace-page.ts';
import { summarise } from '../src/traces.ts';
import {
  ALICE_TRACE,
  BOB_DENIED_TRACE,
  BOB_SUMMARY_TRACE,
  fixtureEvents,
  URLS,
  withoutSpans,
} from './fixtures/three-hop.ts';

const traceOf = (traceId: string, events: AuditEvent[] = fixtureEvents()) =>
  events.filter((event) => event.trace_id === traceId);

/** Edges as `from -> to: modes`, names instead of ids, sorted: what a reviewer reads off the graph. */
function edgesOf(graph: IdentityGraph): string[] {
  const name = (id: string) => graph.nodes.find((node) => node.id === id)!.name;
  return graph.edges
    .map(
      (edge) =>
        `${name(edge.from)} -> ${name(edge.to)}: ${[...new Set(edge.hops.map((hop) => hop.mode))].join(',')}`,
    )
    .sort();
}

const ALICE_EDGES = [
  'agent-1 -> orders-mcp: service_identity',
  'alice -> agent-1: ',
  'billing-mcp -> 127.0.0.1:4010: on_behalf_of',
  'billing-mcp -> billing-api: on_behalf_of',
  'orders-mcp -> 127.0.0.1:4010: on_behalf_of',
  'orders-mcp -> billing-mcp: on_behalf_of',
  'orders-mcp -> orders-api: service_identity',
];

test('span links order hops causally: the tool call first, each call before what it caused', () => {
  const hops = orderHops(traceOf(ALICE_TRACE));
  assert.deepEqual(
    hops.map((hop) => `${hop.parent?.n ?? '-'}>${hop.n} ${hop.event.action} ${hop.event.target.name}`),
    [
      '->1 tool.invoke order_summary',
      '1>2 api.call orders-api',
      '2>3 api.call GET /api/orders',
      '1>4 api.call billing-mcp',
      `4>5 token.exchange ${URLS.billingMcp}`,
      '4>6 tool.invoke list_invoices',
      '6>7 api.call billing-api',
      `7>8 token.exchange ${URLS.billingApi}`,
      '7>9 api.call GET /api/invoices',
    ],
  );
});

test('the three-hop trace: the user, the agent and every service, with who called whom and how', () => {
  const graph = identityGraph(orderHops(traceOf(ALICE_TRACE)));
  assert.deepEqual(
    graph.nodes.map((node) => `${node.kind} ${node.name}${node.detail ? ` ${node.detail}` : ''}`),
    [
      'user alice tenant acme',
      'agent agent-1',
      `mcp orders-mcp ${URLS.ordersMcp}`,
      `api orders-api ${URLS.ordersApi}`,
      `mcp billing-mcp ${URLS.billingMcp}`,
      'broker 127.0.0.1:4010',
      `api billing-api ${URLS.billingApi}`,
    ],
  );
  assert.deepEqual(edgesOf(graph), ALICE_EDGES);
  // A call recorded by both ends is one edge carrying both records.
  const ordersApi = graph.edges.find((edge) => edge.to === `svc:${URLS.ordersApi}`)!;
  assert.deepEqual(
    ordersApi.hops.map((hop) => hop.target),
    ['orders-api', 'GET /api/orders'],
  );
  // A token exchange is labelled with its audience, by the name the audience's node has.
  const exchange = graph.edges.find(
    (edge) => edge.from === `svc:${URLS.ordersMcp}` && edge.to === `svc:${URLS.broker}`,
  )!;
  assert.deepEqual(exchange.hops[0]!.target, 'aud billing-mcp');
  assert.deepEqual(exchange.hops[0]!.scopes, ['billing:read']);
});

test('without span ids the same graph is derived from chains and time', () => {
  const graph = identityGraph(orderHops(withoutSpans(traceOf(ALICE_TRACE))));
  assert.deepEqual(edgesOf(graph), ALICE_EDGES);
  assert.equal(graph.nodes.length, 7);
});

test('a step-up denial marks the edge and the node that asked for it', () => {
  const graph = identityGraph(orderHops(traceOf(BOB_DENIED_TRACE)));
  const call = graph.edges.find((edge) => edge.kind === 'call')!;
  assert.equal(call.from, 'agent:agent-2');
  assert.equal(call.to, `svc:${URLS.ordersMcp}`);
  assert.equal(call.outcome, 'denied');
  assert.equal(call.stepUp, true);
  const server = graph.nodes.find((node) => node.id === call.to)!;
  assert.equal(server.outcome, 'denied');
  assert.equal(server.stepUp, true);
});

test('a refused exchange marks the broker, and the refused call still points where it was going', () => {
  const graph = identityGraph(orderHops(traceOf(BOB_SUMMARY_TRACE)));
  const broker = graph.nodes.find((node) => node.kind === 'broker')!;
  assert.equal(broker.outcome, 'denied');
  assert.equal(broker.stepUp, false);
  const refused = graph.edges.find((edge) => edge.hops.some((hop) => hop.reason === 'broker_invalid_scope'))!;
  assert.equal(refused.to, `svc:${URLS.billingMcp}`);
  // billing-mcp never recorded anything itself: it was not reached, so it is not marked.
  assert.equal(graph.nodes.find((node) => node.id === refused.to)!.outcome, 'ok');
});

test('a span cycle in hostile data neither loops nor loses events', () => {
  const [a, b] = traceOf(ALICE_TRACE);
  const events = [
    { ...a!, span_id: '1111111111111111', parent_span_id: '2222222222222222' },
    { ...b!, span_id: '2222222222222222', parent_span_id: '1111111111111111' },
  ];
  const hops = orderHops(events);
  assert.equal(hops.length, 2);
  assert.ok(identityGraph(hops).edges.length > 0);
});

test('a revocation reads as the operator acting at the broker: the edge says what was revoked, the page how much', () => {
  const event = auditEventOf(
    {
      actor: { sub: 'ops-admin', tenant: null },
      agent: 'ops-admin',
      scopes: [],
      delegation: { mode: 'direct', chain: ['ops-admin'] },
    },
    {
      action: 'revocation',
      component: URLS.broker,
      target: { type: 'revocation', name: 'subject:bob' },
      outcome: 'ok',
      started: performance.now(),
      trace: { traceId: '11111111111111111111111111111111', spanId: '2222222222222222' },
      revocation: { kind: 'subject', covered: 3, note: 'offboarded <b>' },
    },
  );
  const hops = orderHops([event]);
  const graph = identityGraph(hops);
  const broker = graph.nodes.find((node) => node.kind === 'broker');
  assert.ok(broker, 'the broker is a broker node, not an API');
  assert.deepEqual(
    graph.edges.flatMap((edge) => edge.hops.map((hop) => hop.target)),
    ['revoke subject:bob'],
  );
  const page = String(tracePage(summarise(event.trace_id, [event]), hops, graph));
  assert.match(page, /covered 3 · disabled · “offboarded &lt;b&gt;”/);
  assert.doesNotMatch(page, /<b>/, 'the revoker’s words are escaped');
});

test('a resource read or prompt get is drawn at its MCP server, as a tool call is', () => {
  const [toolCall] = traceOf(ALICE_TRACE).filter((event) => event.action === 'tool.invoke');
  for (const [action, type] of [
    ['resource.read', 'resource'],
    ['prompt.get', 'prompt'],
  ] as const) {
    const event = { ...toolCall!, action, target: { type, name: 'my-pipeline' } } as AuditEvent;
    const graph = identityGraph(orderHops([event]));
    const server = graph.nodes.find((node) => node.id === `svc:${toolCall!.component}`);
    assert.equal(server?.kind, 'mcp', action);
  }
});
