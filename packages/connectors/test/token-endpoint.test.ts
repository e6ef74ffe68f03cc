import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConnectorErrorCode, jwtBearerConnector, type PlatformToken } from '../src/index.ts';
import { expectConnectorError } from './fixtures/expect-connector-error.ts';
import { startFixedResponseServer } from './fixtures/fixed-response-server.ts';
import { generateTestKey } from './fixtures/keys.ts';

const key = await generateTestKey();
const alice = { sub: 'user-alice', tenant: null };

/** Asks a server that always answers `status`/`body` for a token, through the JWT bearer connector. */
async function tokenFrom(
  status: number,
  body: string,
  headers?: Record<string, string>,
): Promise<PlatformToken> {
  const server = await startFixedResponseServer(status, body, headers);
  try {
    return await jwtBearerConnector({
      tokenEndpoint: server.tokenEndpoint,
      clientId: 'baton',
      privateKey: key.privateJwk,
      identityMapping: { 'user-alice': 'alice@platform.example' },
      defaultExpiresInSeconds: 120,
    }).token({ user: alice, scopes: [] });
  } finally {
    await server.close();
  }
}

describe('reading token endpoint responses', () => {
  it('accepts expires_in as a number or a numeric string, and assumes a lifetime when it is absent', async () => {
    const now = Math.floor(Date.now() / 1000);
    const numeric = await tokenFrom(
      200,
      JSON.stringify({ access_token: 'a', token_type: 'Bearer', expires_in: 60 }),
    );
    assert.ok(numeric.expiresAt >= now + 60 && numeric.expiresAt <= now + 61);
    const text = await tokenFrom(
      200,
      JSON.stringify({ access_token: 'b', token_type: 'Bearer', expires_in: '3599' }),
    );
    assert.ok(text.expiresAt >= now + 3599 && text.expiresAt <= now + 3600);
    // Salesforce's JWT bearer response has no expires_in.
    const absent = await tokenFrom(200, JSON.stringify({ access_token: 'c', token_type: 'Bearer' }));
    assert.ok(absent.expiresAt >= now + 120 && absent.expiresAt <= now + 121);
    assert.equal(absent.scope, undefined);
  });

  const failures: Array<[string, number, string, ConnectorErrorCode, string | undefined]> = [
    ['a 200 that is not JSON', 200, '<html>login</html>', 'ERR_CONNECTOR_BAD_RESPONSE', undefined],
    ['a 200 without access_token', 200, '{"token_type":"Bearer"}', 'ERR_CONNECTOR_BAD_RESPONSE', undefined],
    [
      'a non-bearer token',
      200,
      '{"access_token":"x","token_type":"DPoP"}',
      'ERR_CONNECTOR_BAD_RESPONSE',
      undefined,
    ],
    ['a 404 page', 404, 'not found', 'ERR_CONNECTOR_BAD_RESPONSE', undefined],
    ['a 400 OAuth error', 400, '{"error":"invalid_grant"}', 'ERR_CONNECTOR_REFUSED', 'invalid_grant'],
    [
      'a 503 OAuth error',
      503,
      '{"error":"temporarily_unavailable"}',
      'ERR_CONNECTOR_UNAVAILABLE',
      'temporarily_unavailable',
    ],
    ['a 500 page', 500, 'oops', 'ERR_CONNECTOR_UNAVAILABLE', undefined],
    ['a 429', 429, '{"error":"slow_down"}', 'ERR_CONNECTOR_UNAVAILABLE', 'slow_down'],
  ];
  for (const [name, status, body, code, oauthError] of failures) {
    it(`reports ${name} as ${code}`, async () => {
      const error = await expectConnectorError(tokenFrom(status, body), code, oauthError);
      assert.equal(error.status, status);
    });
  }

  it('does not follow a redirect with the credentials: a bad response', async () => {
    const elsewhere = await startFixedResponseServer(200, '{"access_token":"x","token_type":"Bearer"}');
    try {
      const error = await expectConnectorError(
        tokenFrom(307, '', { location: elsewhere.tokenEndpoint }),
        'ERR_CONNECTOR_BAD_RESPONSE',
      );
      assert.equal(error.status, 307);
      assert.equal(elsewhere.requests(), 0, 'nothing was sent to the redirect target');
    } finally {
      await elsewhere.close();
    }
  });

  it("caps the platform's error description", async () => {
    const error = await expectConnectorError(
      tokenFrom(400, JSON.stringify({ error: 'invalid_grant', error_description: 'x'.repeat(5000) })),
      'ERR_CONNECTOR_REFUSED',
      'invalid_grant',
    );
    assert.equal(error.oauthErrorDescription?.length, 500);
  });
});
