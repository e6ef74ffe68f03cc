import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type AccessTokenVerifier, BearerError, introspectionVerifier } from '../src/index.ts';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'https://orders.example/mcp';
const CLIENT = { clientId: 'orders-mcp', clientSecret: 'introspection-secret' };
const TOKEN = 'opaque-access-token-under-test';

/**
 * A real RFC 7662 endpoint on 127.0.0.1 (the peer, not the code under test): it checks the client's
 * Basic credentials and answers with whatever `answer` holds for the current test.
 */
describe('introspection verifier (RFC 7662) against a real HTTP endpoint', () => {
  let server: Server;
  let endpoint: string;
  let answer: { status: number; body: string };
  let received: { authorization: string | undefined; form: URLSearchParams } | undefined;

  function json(status: number, body: Record<string, unknown>): { status: number; body: string } {
    return { status, body: JSON.stringify(body) };
  }

  function active(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      active: true,
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-alice',
      client_id: 'agent',
      scope: 'orders:read orders:write',
      token_type: 'Bearer',
      iat: now,
      exp: now + 300,
      jti: 'token-id',
      ...overrides,
    };
  }

  before(async () => {
    server = createServer((request, response) => {
      let raw = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        raw += chunk;
      });
      request.on('end', () => {
        received = { authorization: request.headers.authorization, form: new URLSearchParams(raw) };
        response.writeHead(answer.status, { 'content-type': 'application/json' });
        response.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    received = undefined;
  });

  function verifier(): AccessTokenVerifier {
    return introspectionVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      introspectionEndpoint: endpoint,
      clientAuthentication: { method: 'client_secret_basic', ...CLIENT },
    });
  }

  async function assertRefused(
    expected: { status: number; error: string; reason: string },
    message?: string,
  ): Promise<void> {
    await assert.rejects(
      verifier().verify(TOKEN),
      (error: unknown) => {
        assert.ok(error instanceof BearerError, 'a BearerError');
        assert.equal(error.status, expected.status, message);
        assert.equal(error.error, expected.error, message);
        assert.equal(error.reason, expected.reason, message);
        assert.equal(error.message.includes(TOKEN), false, 'the description never holds the token');
        return true;
      },
      message,
    );
    assert.ok(received, 'the endpoint was asked');
  }

  const invalidToken = (reason: string) => ({ status: 401, error: 'invalid_token', reason });

  it('sanity: an active token for this resource is accepted, asked with Basic client credentials', async () => {
    answer = json(200, active());
    const claims = await verifier().verify(TOKEN);
    assert.equal(claims.subject, 'user-alice');
    assert.equal(claims.clientId, 'agent');
    assert.deepEqual(claims.scopes, ['orders:read', 'orders:write']);
    assert.equal(
      received?.authorization,
      `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`,
    );
    assert.equal(received?.form.get('token'), TOKEN);
    assert.equal(received?.form.get('token_type_hint'), 'access_token');
  });

  it('refuses an inactive token as token_inactive', async () => {
    answer = json(200, { active: false });
    await assertRefused(invalidToken('token_inactive'));
  });

  it('refuses an answer whose active is not literally true as token_inactive', async () => {
    answer = json(200, active({ active: 'true' }));
    await assertRefused(invalidToken('token_inactive'));
  });

  it('refuses a token the endpoint says another issuer issued as issuer_invalid', async () => {
    answer = json(200, active({ iss: 'https://evil.example' }));
    await assertRefused(invalidToken('issuer_invalid'));
  });

  it('refuses a token for another resource, or for none, as audience_invalid', async () => {
    for (const aud of [`${AUDIENCE}2`, ['https://api.example'], undefined]) {
      answer = json(200, active({ aud }));
      await assertRefused(invalidToken('audience_invalid'), `aud ${JSON.stringify(aud)}`);
    }
  });

  it('refuses an expired token as token_expired, even if the endpoint calls it active', async () => {
    answer = json(200, active({ exp: Math.floor(Date.now() / 1000) - 120 }));
    await assertRefused(invalidToken('token_expired'));
  });

  it('refuses a token with no expiry as claims_invalid', async () => {
    answer = json(200, active({ exp: undefined }));
    await assertRefused(invalidToken('claims_invalid'));
  });

  it('refuses an answer without sub or client_id as claims_invalid', async () => {
    for (const missing of ['sub', 'client_id']) {
      answer = json(200, active({ [missing]: undefined }));
      await assertRefused(invalidToken('claims_invalid'), `without ${missing}`);
    }
  });

  it('refuses a token not valid yet as token_not_yet_valid', async () => {
    answer = json(200, active({ nbf: Math.floor(Date.now() / 1000) + 600 }));
    await assertRefused(invalidToken('token_not_yet_valid'));
  });

  it('refuses a non-bearer token type as typ_invalid', async () => {
    answer = json(200, active({ token_type: 'DPoP' }));
    await assertRefused(invalidToken('typ_invalid'));
  });

  it('fails closed with 503 temporarily_unavailable when the endpoint answers non-2xx', async () => {
    for (const status of [500, 503, 401, 400]) {
      answer = json(status, active());
      await assertRefused(
        { status: 503, error: 'temporarily_unavailable', reason: 'authorization_server_unavailable' },
        `status ${status}`,
      );
    }
  });

  it('fails closed with 503 when the endpoint answers 200 with something that is not JSON', async () => {
    answer = { status: 200, body: '<html>not json</html>' };
    await assertRefused({
      status: 503,
      error: 'temporarily_unavailable',
      reason: 'authorization_server_unavailable',
    });
  });
});
