import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { dpopKey, exchangeToken, TokenRequestError, tlsClientCredentials } from '../src/index.ts';

/**
 * A token request carries the client's credentials, the subject token and a DPoP proof: a token
 * endpoint that redirects (a moved broker, a misconfigured ingress, someone on the path) must get no
 * second copy sent on, and the client must take no token from wherever the redirect points.
 */
describe('token requests and redirects', () => {
  const received: string[] = [];
  let target: Server;
  let redirecting: Server;
  const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  before(async () => {
    target = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(body);
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ access_token: 'planted', token_type: 'Bearer', expires_in: 300 }));
      });
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    redirecting = createServer((_request, response) => {
      response.statusCode = 307;
      response.setHeader('location', `${urlOf(target)}/token`);
      response.end();
    });
    redirecting.listen(0, '127.0.0.1');
    await once(redirecting, 'listening');
  });
  after(() => {
    target.close();
    redirecting.close();
  });

  it('refuses a token endpoint that redirects: the target receives nothing and no token is taken', async () => {
    const dpop = await dpopKey();
    await assert.rejects(
      exchangeToken(
        urlOf(redirecting),
        tlsClientCredentials('orders-mcp'),
        { subjectToken: 'the-subject-token', resource: 'https://api.example' },
        { dpop },
      ),
      (error: unknown) => error instanceof TokenRequestError && error.status === 307,
    );
    assert.deepEqual(received, [], 'nothing sent on to the redirect target');
  });
});
