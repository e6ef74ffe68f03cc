import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RawResponse, rawRequest } from '../../../packages/resource-server/test/fixtures/raw-http.ts';
import { type Component, type Components, refusalReasons, startComponents } from './fixtures/components.ts';

/**
 * Seeded fuzzing of request shapes against every HTTP component Baton ships: the MCP servers behind
 * the boundary, the APIs behind the downstream verifier (fetch-style and Express) and the audit
 * console, over raw TCP so that nothing is normalised on the way. Every answer must be well-formed
 * HTTP with a status below 500, and every server must keep serving. Reproduce a failure with the
 * printed seed: BATON_FUZZ_SEED=<seed> BATON_FUZZ_CASES=<n>.
 */
const SEED = Number(process.env.BATON_FUZZ_SEED ?? 0x8a70_2026);
const CASES = Number(process.env.BATON_FUZZ_CASES ?? 360);

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  bytes: Buffer;
  head: boolean;
  /** A one-line account of the case, for the failure message. */
  summary: string;
}

function generator(random: () => number) {
  const int = (below: number) => Math.floor(random() * below);
  const pick = <T>(values: readonly T[]): T => values[int(values.length)]!;
  const chance = (p: number) => random() < p;
  // Bytes Node's parser lets through in a field value (HTAB, SP, VCHAR, obs-text): odd, not unparsable.
  const oddBytes = (length: number) =>
    String.fromCharCode(
      ...Array.from({ length }, () => pick([0x09, 0x20, 0x80 + int(0x80), 0x21 + int(0x5e)])),
    );

  const methods = ['GET', 'POST', 'POST', 'POST', 'HEAD', 'DELETE', 'OPTIONS'];
  const oddMethods = ['PUT', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'QUERY', 'TRACK', 'FOO', 'get'];
  const oddTargets = [
    '*',
    'http://evil.example/mcp',
    '//evil.example/mcp',
    '/%ZZ',
    '/..%2f..%2fetc/passwd',
    '/mcp/../mcp',
    '/mcp\\..\\x',
    '/mcp?x=%E0%A4%A',
    '/api/traces?since=yesterday&limit=-1&limit=9999',
    '/api/traces?user=%00',
    `/traces/${'f'.repeat(64)}`,
    `/${'a/'.repeat(500)}`,
    `/${'x'.repeat(9000)}`,
    '/mcp#fragment',
    '/\u00e9\u00ff',
  ];
  const hosts = (port: number) => [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '127.0.0.1'];
  const oddHosts = (port: number) => [
    'a b',
    '[::1',
    'localhost.',
    '127.0.0.1.',
    '127.0.0.1:65536',
    `127.0.0.1:${port}:1`,
    'b\u00fccher.example',
    '',
    'evil.example',
    `evil@127.0.0.1:${port}`,
    `127.0.0.1:${port}/.well-known/jwks.json#`,
    '1.2.3.4.5',
    'a'.repeat(300),
    oddBytes(12),
  ];
  const bodies = [
    '',
    '{}',
    '[]',
    'null',
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_orders","arguments":{}}}',
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_order","arguments":{"item":"x","user_id":"user-bob"}}}',
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"f","version":"1"}}}',
    '[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"}]',
    '{"jsonrpc":"2.0","id":{"x":1},"method":"tools/list"}',
    '{"jsonrpc":"2.0",',
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_order","arguments":{"item":"${'y'.repeat(20000)}"}}}`,
    '\u00ff\u00fe\u0000\u0001',
  ];

  return (component: Component): Generated => {
    // Each framing dimension is malformed in a minority of cases, so that about half of the requests
    // get past the adapter's checks and exercise the handlers behind it.
    const method = chance(0.2) ? pick(oddMethods) : pick(methods);
    const version = chance(0.08) ? 'HTTP/1.0' : 'HTTP/1.1';
    const target =
      method === 'CONNECT'
        ? `127.0.0.1:${component.port}`
        : chance(0.2)
          ? pick(oddTargets)
          : pick(component.paths);
    const lines: string[] = [];
    const hostChoice = random();
    if (hostChoice < 0.04) {
      // no Host at all
    } else if (hostChoice < 0.08) {
      lines.push(`Host: 127.0.0.1:${component.port}`, `Host: ${pick(hosts(component.port))}`);
    } else {
      const host = hostChoice < 0.25 ? pick(oddHosts(component.port)) : pick(hosts(component.port));
      lines.push(`${pick(['Host', 'host', 'HOST'])}: ${host}`);
    }
    const token = component.token;
    const authorization = int(10);
    if (authorization <= 3 && token) lines.push(`Authorization: Bearer ${token}`);
    else if (authorization === 4 && token)
      lines.push(`Authorization: Bearer ${token}`, `authorization: Bearer ${token}`);
    else if (authorization === 5)
      lines.push(`Authorization: Bearer ${token ?? 'x'}`, 'Authorization: Bearer other-token');
    else if (authorization === 6)
      lines.push(
        `Authorization: ${pick(['Bearer', 'Basic YTpi', 'Bearer a b', 'bearer  x', `Bearer ${'A'.repeat(7000)}`, `Bearer ${oddBytes(20)}`])}`,
      );
    else if (authorization === 7 && token) lines.push(`Authorization: Bearer ${token.slice(0, -3)}abc`);
    if (chance(0.8))
      lines.push(
        `Accept: ${chance(0.7) ? 'application/json, text/event-stream' : pick(['*/*', 'text/html', oddBytes(8)])}`,
      );
    if (chance(0.3))
      lines.push(`MCP-Protocol-Version: ${pick(['2025-06-18', '2025-03-26', '1999-01-01', oddBytes(6)])}`);
    if (chance(0.15)) lines.push(`Mcp-Session-Id: ${pick(['abc', oddBytes(10)])}`);
    if (chance(0.2))
      lines.push(
        `traceparent: ${pick(['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-zz-zz-01', oddBytes(55)])}`,
      );
    if (chance(0.1)) lines.push(`Txn-Token: ${pick(['a.b.c', oddBytes(40)])}`);
    if (chance(0.2))
      lines.push(
        `Origin: ${pick(['http://evil.example', 'null', `http://127.0.0.1:${component.port}`, oddBytes(10)])}`,
      );
    if (chance(0.15)) lines.push(`X-${int(1000)}: ${oddBytes(1 + int(200))}`);
    if (chance(0.02)) lines.push('X-Control: a\x7fb'); // Node's parser refuses this one itself (400)
    if (chance(0.1)) lines.push(`X-Long: ${'v'.repeat(4000 + int(4000))}`);
    if (chance(0.1)) for (let count = 0; count < 50; count += 1) lines.push(`X-Repeat: ${count}`);
    if (chance(0.05)) lines.push('Expect: 100-continue');
    if (chance(0.05)) lines.push(`Upgrade: websocket`, 'Connection: Upgrade');
    else lines.push(`Connection: ${pick(['close', 'keep-alive', 'close'])}`);
    const anyBody = () => (chance(0.5) ? pick(bodies.slice(4, 9)) : pick(bodies));
    let body = method === 'GET' || method === 'HEAD' ? (chance(0.1) ? anyBody() : '') : anyBody();
    if (body !== '' && chance(0.9))
      lines.push(
        `Content-Type: ${chance(0.7) ? 'application/json' : pick(['text/plain', 'application/json; charset=utf-16', oddBytes(10)])}`,
      );
    const payload = Buffer.from(body, 'latin1');
    if (chance(0.1) && payload.length > 0) {
      lines.push('Transfer-Encoding: chunked');
      body = `${payload.length.toString(16)}\r\n${payload.toString('latin1')}\r\n0\r\n\r\n`;
    } else if (payload.length > 0 || chance(0.3)) {
      lines.push(`Content-Length: ${payload.length}`);
    }
    const head = `${method} ${target} ${version}\r\n${lines.join('\r\n')}\r\n\r\n`;
    const bytes = Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'latin1')]);
    const summary = `${method} ${target.slice(0, 60)} ${version}; ${lines
      .map((line) => (line.length > 70 ? `${line.slice(0, 70)}…` : line))
      .join(' | ')
      .replace(/Bearer [A-Za-z0-9._-]{20,}/g, 'Bearer <token>')}; body ${payload.length} bytes`;
    return { bytes, head: method === 'HEAD', summary };
  };
}

describe('seeded fuzz of request shapes against every Baton HTTP component', () => {
  let components: Components;
  before(async () => {
    components = await startComponents();
  });
  after(async () => {
    await components?.close();
  });

  /** A request every component answers normally: proves the server is still serving. */
  async function assertServing(component: Component, context: string) {
    const response = await rawRequest(
      component.port,
      `GET ${component.paths[component.paths.length - 1] === '/' ? '/' : component.paths[0]} HTTP/1.1\r\nHost: 127.0.0.1:${component.port}\r\nConnection: close\r\n\r\n`,
    );
    assert.ok(response.status < 500, `${component.name} stopped serving properly after ${context}`);
  }

  it(`answers ${CASES} generated requests with well-formed HTTP below 500 and keeps serving (seed ${SEED})`, async (t) => {
    const random = prng(SEED);
    const generate = generator(random);
    const all = [
      components.ordersMcp,
      components.billingMcp,
      components.ordersApi,
      components.billingApi,
      components.expressApi,
      components.auditConsole,
    ];
    const statuses = new Map<number, number>();
    const byComponent = new Map<string, Map<number, number>>();
    for (let index = 0; index < CASES; index += 1) {
      const component = all[index % all.length]!;
      const generated = generate(component);
      const where = `case ${index} of seed ${SEED} (BATON_FUZZ_SEED=${SEED}) at the ${component.name}: ${generated.summary}`;
      let response: RawResponse;
      try {
        response = await rawRequest(component.port, generated.bytes, {
          head: generated.head,
          timeoutMs: 5000,
        });
      } catch (error) {
        assert.fail(`${where}: ${(error as Error).message}`);
      }
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const seen = byComponent.get(component.name) ?? new Map<number, number>();
      seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
      byComponent.set(component.name, seen);
      assert.ok(
        response.status < 500,
        `${where}: answered ${response.status} ${response.body.slice(0, 200)}`,
      );
      if (index % 30 === 29) for (const each of all) await assertServing(each, where);
    }
    const reasons = new Map<string, number>();
    for (const reason of refusalReasons(components.logLines))
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    t.diagnostic(
      `refused before any handler: ${[...reasons].map(([reason, count]) => `${reason}×${count}`).join(' ')}`,
    );
    for (const [name, seen] of byComponent)
      t.diagnostic(
        `${name}: ${[...seen]
          .sort(([a], [b]) => a - b)
          .map(([status, count]) => `${status}×${count}`)
          .join(' ')}`,
      );
    // The fuzz must reach past the refusals too, or it proves little.
    assert.ok(
      [...statuses.keys()].some((status) => status >= 200 && status < 300),
      'some requests succeed',
    );
    assert.ok(statuses.has(400) && statuses.has(401) && statuses.has(405), `statuses seen: ${[...statuses]}`);
  });
});
