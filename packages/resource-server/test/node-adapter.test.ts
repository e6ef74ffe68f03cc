import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isWellFormedHost, requestAddress } from '../src/index.ts';
import { nodeRequestListener, serveNodeRequests } from '../src/node/index.ts';
import { type RawResponse, rawRequest } from './fixtures/raw-http.ts';

interface Logged {
  status: number;
  reason: string;
}

describe('Baton Node adapter', () => {
  let server: Server;
  let port: number;
  const logged: Logged[] = [];
  const reached: Request[] = [];

  before(async () => {
    server = createServer();
    serveNodeRequests(
      server,
      {
        async fetch(request) {
          reached.push(request);
          if (new URL(request.url).pathname === '/throws') throw new Error('handler bug');
          return Response.json({ url: request.url, authorization: request.headers.get('authorization') });
        },
      },
      { logger: { warn: (fields) => logged.push(fields) } },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  /** Sends a request with the given request line and header lines, nothing normalised. */
  async function send(requestLine: string, headerLines: string[], body = ''): Promise<RawResponse> {
    reached.length = 0;
    logged.length = 0;
    const text = `${requestLine}\r\n${[...headerLines, 'Connection: close'].join('\r\n')}\r\n\r\n${body}`;
    return rawRequest(port, Buffer.from(text, 'latin1'));
  }

  /** Asserts the refusal: status, error code, the logged private reason, and that the handler never ran. */
  function assertRefused(response: RawResponse, status: number, reason: string) {
    assert.equal(response.status, status);
    assert.equal(response.headers.get('content-type')?.[0], 'application/json');
    const body = JSON.parse(response.body) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description, /^[\x20-\x7e]+$/);
    assert.deepEqual(logged, [{ status, reason }]);
    assert.equal(reached.length, 0, 'the handler must not run for a malformed request');
  }

  const hostCases: Array<[string, string, string]> = [
    ['a Host with a space', 'a b', 'host_invalid'],
    ['an unclosed IPv6 literal', '[::1', 'host_invalid'],
    ['a trailing dot', 'localhost.', 'host_invalid'],
    ['a port above 65535', '127.0.0.1:65536', 'host_invalid'],
    ['a non-ASCII host name', 'b\xfccher.example', 'host_invalid'],
    ['an empty Host', '', 'host_invalid'],
    ['userinfo in Host', 'evil@127.0.0.1', 'host_invalid'],
    ['a path in Host', '127.0.0.1/.well-known/jwks.json?', 'host_invalid'],
    ['an IPv4 address with five parts', '1.2.3.4.5', 'host_invalid'],
  ];
  for (const [what, host, reason] of hostCases) {
    it(`refuses ${what} (${JSON.stringify(host)}) with 400 invalid_request`, async () => {
      assertRefused(await send('GET /mcp HTTP/1.1', [`Host: ${host}`]), 400, reason);
    });
  }

  it('refuses a request without Host (HTTP/1.0) and one with two Host headers', async () => {
    assertRefused(await send('GET /mcp HTTP/1.0', []), 400, 'host_missing');
    assertRefused(
      await send('GET /mcp HTTP/1.1', ['Host: 127.0.0.1', 'Host: evil.example']),
      400,
      'host_duplicated',
    );
  });

  it('answers TRACE with 405 and the served methods in Allow (RFC 9110 §15.5.6), not 500', async () => {
    const response = await send('TRACE /mcp HTTP/1.1', ['Host: 127.0.0.1']);
    assertRefused(response, 405, 'method_not_allowed');
    assert.equal(response.headers.get('allow')?.[0], 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    assertRefused(await send('PROPFIND /mcp HTTP/1.1', ['Host: 127.0.0.1']), 405, 'method_not_allowed');
  });

  it('answers CONNECT with 405 instead of dropping the connection', async () => {
    const response = await send('CONNECT 127.0.0.1:443 HTTP/1.1', ['Host: 127.0.0.1:443']);
    assertRefused(response, 405, 'method_not_allowed');
  });

  it('an attacker who sends two Authorization headers (alice + bob) gets 400 invalid_request with a Bearer challenge', async () => {
    const response = await send('GET /mcp HTTP/1.1', [
      'Host: 127.0.0.1',
      'Authorization: Bearer alice-token',
      'authorization: Bearer bob-token',
    ]);
    assertRefused(response, 400, 'authorization_header_duplicated');
    assert.match(
      response.headers.get('www-authenticate')?.[0] ?? '',
      /^Bearer error="invalid_request", error_description="[^"\\]+"$/,
    );
    assert.doesNotMatch(response.body, /alice|bob/);
  });

  it('refuses absolute-form, asterisk-form and over-long request targets', async () => {
    assertRefused(
      await send('GET http://evil.example/mcp HTTP/1.1', ['Host: 127.0.0.1']),
      400,
      'request_target_invalid',
    );
    assertRefused(await send('OPTIONS * HTTP/1.1', ['Host: 127.0.0.1']), 400, 'request_target_invalid');
    assertRefused(
      await send(`GET /${'a'.repeat(9000)} HTTP/1.1`, ['Host: 127.0.0.1']),
      414,
      'request_target_too_long',
    );
  });

  it('passes well-formed requests to the handler unchanged, through the SDK adapter', async () => {
    for (const host of ['127.0.0.1', `127.0.0.1:${port}`, 'localhost', '[::1]:8080', 'orders_api.internal']) {
      const response = await send(
        'POST /mcp?x=1 HTTP/1.1',
        [`Host: ${host}`, 'Authorization: Bearer one-token', 'Content-Length: 2'],
        '{}',
      );
      assert.equal(response.status, 200, host);
      const body = JSON.parse(response.body) as { url: string; authorization: string };
      assert.equal(body.url, `http://${host}/mcp?x=1`);
      assert.equal(body.authorization, 'Bearer one-token');
      assert.deepEqual(logged, []);
    }
  });

  it('answers a failing handler with 500 and keeps serving', async () => {
    const failed = await send('GET /throws HTTP/1.1', ['Host: 127.0.0.1']);
    assert.equal(failed.status, 500);
    assert.equal((await send('GET / HTTP/1.1', ['Host: 127.0.0.1'])).status, 200);
  });

  it('checks served methods at construction', () => {
    assert.throws(
      () => nodeRequestListener({ fetch: async () => new Response() }, { methods: ['TRACE'] }),
      TypeError,
    );
    assert.throws(
      () => nodeRequestListener({ fetch: async () => new Response() }, { methods: ['get'] }),
      TypeError,
    );
  });
});

describe('Host syntax', () => {
  it('accepts host names, IPv4 and IPv6 literals with optional ports', () => {
    for (const host of [
      'localhost',
      'LOCALHOST:1',
      '127.0.0.1:65535',
      'orders.example.com',
      'my_service:8080',
      '[::1]',
      '[::1]:4001',
      '[2001:db8::1]',
      '[::ffff:127.0.0.1]:80',
      'a'.repeat(63),
    ]) {
      assert.equal(isWellFormedHost(host), true, host);
    }
  });
  it('refuses what would build another URL than the one sent', () => {
    for (const host of [
      '',
      ' ',
      'a b',
      '.',
      '.example',
      'example.',
      'a..b',
      'localhost:',
      'localhost:0x10',
      'localhost:123456',
      '127.0.0.1:65536',
      '[::1',
      '[::1]x',
      '[::1]:',
      '[]',
      '[::1::2]',
      '[fe80::1%25eth0]',
      '1.2.3.4.5',
      '999.0.0.1',
      'a.0x1',
      'u@host',
      'host/path',
      'host?q',
      'host#f',
      'host\\x',
      'b\u00fccher.example',
      'xn--bcher-kva.example\u200b',
      'a'.repeat(64),
      `${'a.'.repeat(127)}ab`,
    ]) {
      assert.equal(isWellFormedHost(host), false, JSON.stringify(host));
    }
  });
});

describe('requestAddress (fetch runtimes)', () => {
  it('refuses a Request whose Host header is malformed, and never throws', () => {
    for (const host of ['a b', '[::1', 'localhost.', '127.0.0.1:65536', '', 'x, y']) {
      const address = requestAddress(new Request('http://127.0.0.1/mcp', { headers: { host } }));
      assert.ok('reason' in address, host);
      assert.equal(address.status, 400);
      assert.equal(address.reason, 'host_invalid');
    }
  });
  it('uses the URL host when a fetch runtime sends no Host header', () => {
    const address = requestAddress(new Request('http://127.0.0.1:4001/mcp'));
    assert.ok(!('reason' in address));
    assert.equal(address.host, '127.0.0.1:4001');
    assert.equal(address.url.pathname, '/mcp');
  });
  it('refuses a request-like object whose URL does not parse', () => {
    const address = requestAddress({ url: 'not a url', headers: new Headers() } as Request);
    assert.ok('reason' in address);
    assert.equal(address.reason, 'request_target_invalid');
  });
});
