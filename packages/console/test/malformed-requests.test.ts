import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { rawRequest } from '../../resource-server/test/fixtures/raw-http.ts';
import {
  createConsole,
  NO_SIGN_IN_BEHIND_TRUSTED_PROXY,
  type RunningConsole,
  startConsole,
} from '../src/index.ts';

describe('startConsole answers malformed requests with a 4xx before the console runs', () => {
  let app: RunningConsole;
  let port: number;
  const logged: Array<{ status: number; reason: string }> = [];

  before(async () => {
    // The console's pino logger also receives the adapter's refusals: collect those (status + reason).
    const logger = createLogger({
      name: 'console-malformed',
      destination: new Writable({
        write(chunk, _encoding, callback) {
          const line = JSON.parse(String(chunk)) as { status?: number; reason?: string };
          if (line.status !== undefined && line.reason !== undefined)
            logged.push({ status: line.status, reason: line.reason });
          callback();
        },
      }) as never,
    });
    app = await startConsole({
      reader: new MemoryAuditSink(),
      auth: NO_SIGN_IN_BEHIND_TRUSTED_PROXY,
      logger,
    });
    port = Number(new URL(app.url).port);
  });
  after(() => app.close());

  const send = (lines: string[]) =>
    rawRequest(port, Buffer.from(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`, 'latin1'));

  for (const host of ['a b', '[::1', 'localhost.', '127.0.0.1:65536', 'b\u00fccher.example', '']) {
    it(`refuses the Host ${JSON.stringify(host)} with 400 invalid_request, not 500`, async () => {
      logged.length = 0;
      const response = await send(['GET /api/traces HTTP/1.1', `Host: ${host}`]);
      assert.equal(response.status, 400);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'invalid_request');
      assert.deepEqual(logged, [{ status: 400, reason: 'host_invalid' }]);
    });
  }

  it('answers TRACE and CONNECT with 405, not 500 or a dropped connection', async () => {
    logged.length = 0;
    assert.equal((await send(['TRACE / HTTP/1.1', `Host: 127.0.0.1:${port}`])).status, 405);
    assert.equal((await send([`CONNECT 127.0.0.1:${port} HTTP/1.1`, `Host: 127.0.0.1:${port}`])).status, 405);
    assert.deepEqual(
      logged.map((entry) => entry.reason),
      ['method_not_allowed', 'method_not_allowed'],
    );
  });

  it('an attacker who sends two Authorization headers gets 400 invalid_request with a Bearer challenge', async () => {
    logged.length = 0;
    const response = await send([
      'GET / HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Authorization: Bearer a',
      'Authorization: Bearer b',
    ]);
    assert.equal(response.status, 400);
    assert.match(response.headers.get('www-authenticate')?.[0] ?? '', /^Bearer error="invalid_request"/);
    assert.deepEqual(logged, [{ status: 400, reason: 'authorization_header_duplicated' }]);
  });

  it('still serves well-formed requests', async () => {
    assert.equal((await send(['GET /api/traces HTTP/1.1', `Host: 127.0.0.1:${port}`])).status, 200);
  });
});

describe('createConsole from a fetch runtime (no Node adapter in front)', () => {
  it('answers a Host no URL can be built from with 400 invalid_request, as the MCP boundary does', async () => {
    const app = createConsole({ reader: new MemoryAuditSink(), auth: NO_SIGN_IN_BEHIND_TRUSTED_PROXY });
    for (const host of ['a b', '[::1', '127.0.0.1:65536']) {
      const response = await app.fetch(new Request('http://127.0.0.1/api/traces', { headers: { host } }));
      assert.equal(response.status, 400, host);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    }
  });
});
