import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RawResponse, rawRequest } from '../../../packages/resource-server/test/fixtures/raw-http.ts';
import { type Component, type Components, refusalReasons, startComponents } from './fixtures/components.ts';

/**
 * Each malformed request the outside review sent, against each HTTP component Baton ships, over raw
 * TCP: a 4xx with `invalid_request` and the private reason in the component's log, never a 500.
 */
describe('malformed requests get a 4xx at every component, never a 500', () => {
  let components: Components;
  before(async () => {
    components = await startComponents();
  });
  after(async () => {
    await components?.close();
  });

  async function send(component: Component, lines: string[], body = ''): Promise<RawResponse> {
    const text = `${lines.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`;
    return rawRequest(component.port, Buffer.from(text, 'latin1'));
  }

  async function assertRefused(
    component: Component,
    lines: string[],
    expected: { status: number; reason: string },
  ): Promise<RawResponse> {
    const from = components.logLines.length;
    const response = await send(component, lines);
    assert.equal(response.status, expected.status, response.body);
    const body = JSON.parse(response.body) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description, /^[\x20-\x7e]+$/);
    assert.deepEqual(refusalReasons(components.logLines, from), [expected.reason]);
    return response;
  }

  const hosts: Array<[string, string]> = [
    ['a Host with a space', 'a b'],
    ['an unclosed IPv6 literal', '[::1'],
    ['a Host with a trailing dot', 'localhost.'],
    ['a port above 65535', '127.0.0.1:65536'],
    ['a non-ASCII Host', 'b\u00fccher.example'],
    ['an empty Host', ''],
  ];
  const labels = {
    ordersMcp: 'orders MCP server (identity boundary)',
    billingMcp: 'billing MCP server (identity boundary)',
    ordersApi: 'orders API (fetch-style downstream verifier)',
    billingApi: 'billing API (fetch-style downstream verifier)',
    expressApi: 'Express API (downstreamIdentity middleware)',
    auditConsole: 'audit console',
  } as const;

  for (const [name, label] of Object.entries(labels) as Array<[keyof typeof labels, string]>) {
    describe(label, () => {
      const component = () => components[name];
      for (const [what, host] of hosts) {
        it(`refuses ${what} (${JSON.stringify(host)}) with 400 invalid_request`, async () => {
          await assertRefused(component(), [`GET ${component().paths[0]} HTTP/1.1`, `Host: ${host}`], {
            status: 400,
            reason: 'host_invalid',
          });
        });
      }
      it('answers TRACE with 405 and Allow, not 500', async () => {
        const response = await assertRefused(
          component(),
          [`TRACE ${component().paths[0]} HTTP/1.1`, `Host: 127.0.0.1:${component().port}`],
          { status: 405, reason: 'method_not_allowed' },
        );
        assert.match(response.headers.get('allow')?.[0] ?? '', /^GET, HEAD, POST/);
      });
      it('an attacker who sends two Authorization headers gets 400 invalid_request with a Bearer challenge', async () => {
        const token = component().token ?? 'some-token';
        const response = await assertRefused(
          component(),
          [
            `GET ${component().paths[0]} HTTP/1.1`,
            `Host: 127.0.0.1:${component().port}`,
            `Authorization: Bearer ${token}`,
            'Authorization: Bearer another-token',
          ],
          { status: 400, reason: 'authorization_header_duplicated' },
        );
        assert.match(response.headers.get('www-authenticate')?.[0] ?? '', /^Bearer error="invalid_request"/);
      });
    });
  }

  it("an attacker who sends alice's and bob's tokens in two Authorization headers gets 400, not alice's orders", async () => {
    const { ordersMcp, people } = components;
    const call = (authorizations: string[]) =>
      send(
        ordersMcp,
        [
          'POST /mcp HTTP/1.1',
          `Host: 127.0.0.1:${ordersMcp.port}`,
          ...authorizations.map((token) => `Authorization: Bearer ${token}`),
          'Accept: application/json, text/event-stream',
          'Content-Type: application/json',
          'MCP-Protocol-Version: 2025-06-18',
          `Content-Length: ${LIST_ORDERS.length}`,
        ],
        LIST_ORDERS,
      );
    const alone = await call([people.alice]);
    assert.equal(alone.status, 200);
    assert.match(alone.body, /A-1001/);
    const from = components.logLines.length;
    const both = await call([people.alice, people.bob]);
    assert.equal(both.status, 400);
    assert.equal((JSON.parse(both.body) as { error: string }).error, 'invalid_request');
    assert.match(both.headers.get('www-authenticate')?.[0] ?? '', /^Bearer error="invalid_request"/);
    assert.deepEqual(refusalReasons(components.logLines, from), ['authorization_header_duplicated']);
    assert.doesNotMatch(both.body, /A-1001/);
  });
});

const LIST_ORDERS = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'list_orders', arguments: {} },
});
