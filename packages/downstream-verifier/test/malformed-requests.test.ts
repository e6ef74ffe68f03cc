import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { rawRequest } from '../../resource-server/test/fixtures/raw-http.ts';
import { type DownstreamVerifier, withDownstreamIdentity } from '../src/index.ts';

/** A verifier that records whether it was asked: malformed requests must be refused before it runs. */
function recordingVerifier(): DownstreamVerifier & { calls: number } {
  return {
    audience: 'http://127.0.0.1:4302/api',
    calls: 0,
    async verify() {
      this.calls += 1;
      throw new Error('not reached in these tests');
    },
  };
}

describe('malformed requests at a downstream API', () => {
  it('the fetch-style handler refuses a Host no URL can be built from with 400 invalid_request (fetch runtimes)', async () => {
    const verifier = recordingVerifier();
    const handler = withDownstreamIdentity({ verifier }, () => Response.json({}));
    for (const host of ['a b', '[::1', 'localhost.', '127.0.0.1:65536', '', 'x, y']) {
      const response = await handler(new Request('http://127.0.0.1:4302/api/orders', { headers: { host } }));
      assert.equal(response.status, 400, host);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    }
    assert.equal(verifier.calls, 0);
  });

  describe('Express middleware', () => {
    async function withExpressApi(
      run: (port: number, logged: Array<{ reason: string }>, verifier: { calls: number }) => Promise<void>,
    ) {
      const express = (await import('express')).default;
      const { downstreamIdentity } = await import('../src/express.ts');
      const verifier = recordingVerifier();
      const logged: Array<{ reason: string }> = [];
      const app = express();
      app.all(
        '/api/orders',
        downstreamIdentity({
          verifier,
          logger: { warn: (fields) => logged.push({ reason: fields.reason }) },
        }),
        (_req, res) => {
          res.json({ reached: true });
        },
      );
      const server = createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        await run((server.address() as AddressInfo).port, logged, verifier);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    }
    const send = (port: number, lines: string[]) =>
      rawRequest(port, Buffer.from(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`, 'latin1'));

    it('an attacker who sends two Authorization headers gets 400 invalid_request with a Bearer challenge, not the first token verified', async () => {
      await withExpressApi(async (port, logged, verifier) => {
        const response = await send(port, [
          'GET /api/orders HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Authorization: Bearer alice-token',
          'Authorization: Bearer bob-token',
        ]);
        assert.equal(response.status, 400);
        assert.equal((JSON.parse(response.body) as { error: string }).error, 'invalid_request');
        assert.match(response.headers.get('www-authenticate')?.[0] ?? '', /^Bearer error="invalid_request"/);
        assert.deepEqual(logged, [{ reason: 'authorization_header_duplicated' }]);
        assert.equal(verifier.calls, 0);
      });
    });

    it('refuses a malformed Host with 400 and TRACE with 405', async () => {
      await withExpressApi(async (port, logged) => {
        for (const host of ['a b', '[::1', 'localhost.', '127.0.0.1:65536', 'b\u00fccher.example', '']) {
          const response = await send(port, ['GET /api/orders HTTP/1.1', `Host: ${host}`]);
          assert.equal(response.status, 400, host);
        }
        const trace = await send(port, ['TRACE /api/orders HTTP/1.1', `Host: 127.0.0.1:${port}`]);
        assert.equal(trace.status, 405);
        assert.equal(logged.filter((entry) => entry.reason === 'host_invalid').length, 6);
        assert.equal(logged.at(-1)?.reason, 'method_not_allowed');
      });
    });
  });
});
