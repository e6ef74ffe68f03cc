import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest } from '../../resource-server/test/fixtures/raw-http.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

/** The refusal reasons the boundary (or the Node adapter in front of it) logged since `from`. */
function loggedReasons(stack: Stack, from: number): string[] {
  return stack.logLines
    .slice(from)
    .map((line) => JSON.parse(line) as { reason?: string })
    .flatMap((entry) => (entry.reason ? [entry.reason] : []));
}

describe('malformed requests at the identity boundary', () => {
  let stack: Stack;
  let reached: Request[];
  let handler: { fetch(request: Request): Promise<Response> };

  before(async () => {
    stack = await startStack();
    reached = [];
    handler = stack.boundary.protect({
      async fetch(request) {
        reached.push(request);
        return new Response('mcp reached');
      },
    });
  });
  after(() => stack.close());

  describe('from a fetch runtime (Hono, Deno, Bun): protect() answers, never throws', () => {
    for (const host of ['a b', '[::1', 'localhost.', '127.0.0.1:65536', 'b\u00fccher.example', '', 'x, y']) {
      it(`refuses the Host ${JSON.stringify(host)} with 400 invalid_request`, async () => {
        const from = stack.logLines.length;
        const response = await handler.fetch(
          new Request(stack.resource, { method: 'POST', headers: { host, authorization: 'Bearer x' } }),
        );
        assert.equal(response.status, 400);
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
        assert.deepEqual(loggedReasons(stack, from), ['host_invalid']);
        assert.equal(reached.length, 0);
      });
    }

    it('still answers a well-formed Host that is not allowed with 403 (DNS-rebinding defence)', async () => {
      const response = await handler.fetch(
        new Request(stack.resource, { method: 'POST', headers: { host: 'evil.example' } }),
      );
      assert.equal(response.status, 403);
    });

    it("an attacker whose runtime joins alice's and bob's Authorization headers gets 400 invalid_request", async () => {
      const headers = new Headers();
      headers.append('authorization', `Bearer ${await stack.tokenFor('alice')}`);
      headers.append('authorization', `Bearer ${await stack.tokenFor('bob')}`);
      const from = stack.logLines.length;
      const response = await handler.fetch(new Request(stack.resource, { method: 'POST', headers }));
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
      assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
      assert.deepEqual(loggedReasons(stack, from), ['authorization_header_malformed']);
      assert.equal(reached.length, 0);
    });
  });

  describe('over node:http (the adapter the stack is served with)', () => {
    it("an attacker who sends alice's and bob's tokens in two Authorization headers gets 400 invalid_request, not alice's session", async () => {
      const port = Number(new URL(stack.resource).port);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      const request = (tokens: string[]) =>
        [
          'POST /mcp HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          ...tokens.map((token) => `Authorization: Bearer ${token}`),
          'Accept: application/json, text/event-stream',
          'Content-Type: application/json',
          `Content-Length: ${body.length}`,
          'Connection: close',
          '',
          body,
        ].join('\r\n');
      const alice = await stack.tokenFor('alice');
      const bob = await stack.tokenFor('bob');
      assert.equal((await rawRequest(port, request([alice]))).status, 200);
      const observedBefore = stack.observed.length;
      const from = stack.logLines.length;
      const response = await rawRequest(port, request([alice, bob]));
      assert.equal(response.status, 400);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'invalid_request');
      assert.match(response.headers.get('www-authenticate')?.[0] ?? '', /^Bearer error="invalid_request"/);
      assert.deepEqual(loggedReasons(stack, from), ['authorization_header_duplicated']);
      assert.equal(stack.observed.length, observedBefore, 'no tool ran');
    });
  });
});
