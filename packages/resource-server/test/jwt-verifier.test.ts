import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { BearerError, jwtAccessTokenVerifier } from '../src/index.ts';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'https://orders.example/mcp';

describe('JWT access tokens while the issuer publishes two keys (rotation)', () => {
  let current: CryptoKey;
  let jwks: { keys: JWK[] };
  let server: Server;
  let jwksUri: string;

  before(async () => {
    const pairs = await Promise.all([
      generateKeyPair('ES256', { extractable: true }),
      generateKeyPair('ES256', { extractable: true }),
    ]);
    current = pairs[1].privateKey;
    jwks = {
      keys: await Promise.all(
        pairs.map(async ({ publicKey }, index) => ({
          ...(await exportJWK(publicKey)),
          kid: `key-${index}`,
          alg: 'ES256',
          use: 'sig',
        })),
      ),
    };
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function sign(header: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'user-alice', client_id: 'agent', scope: 'orders:read', jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(current);
  }

  for (const source of ['local JWKS', 'JWKS served over HTTP'] as const) {
    const verifier = () =>
      jwtAccessTokenVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        ...(source === 'local JWKS'
          ? { jwks: jwks as { keys: Array<Record<string, unknown>> } }
          : { jwksUri }),
      });

    it(`sanity (${source}): a token naming its kid verifies`, async () => {
      const claims = await verifier().verify(await sign({ kid: 'key-1' }));
      assert.equal(claims.subject, 'user-alice');
      assert.equal(claims.clientId, 'agent');
    });

    it(`refuses a kid-less token with 401 invalid_token / key_unknown, not 503 (${source})`, async () => {
      const token = await sign({});
      await assert.rejects(verifier().verify(token), (error: unknown) => {
        assert.ok(error instanceof BearerError);
        assert.equal(error.status, 401);
        assert.equal(error.error, 'invalid_token');
        assert.equal(error.reason, 'key_unknown');
        assert.equal(error.message.includes(token), false, 'the description never holds the token');
        return true;
      });
    });
  }
});
