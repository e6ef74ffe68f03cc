import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DemoIdp } from '@baton/demo-idp';
import { SignJWT } from 'jose';
import { type EntraOboConnectorOptions, entraOboConnector } from '../src/index.ts';
import { expectConnectorError } from './fixtures/expect-connector-error.ts';
import { generateTestKey, type TestKey } from './fixtures/keys.ts';
import { startOboTestPlatform } from './fixtures/obo-test-platform.ts';
import type { TestPlatform } from './fixtures/test-platform.ts';
import { unreachableTokenEndpoint } from './fixtures/unreachable.ts';
import {
  ORDERS_APP,
  OTHER_APP,
  REPORTS_APP,
  startUpstreamIdp,
  userAccessToken,
} from './fixtures/upstream-idp.ts';

const SECRET = 'orders-mcp-client-secret-for-tests';
const alice = { sub: 'user-alice', tenant: 'acme' };
const bob = { sub: 'user-bob', tenant: 'acme' };

describe('entraOboConnector against an on-behalf-of test platform', () => {
  let idp: DemoIdp;
  let platform: TestPlatform;
  let clientKey: TestKey;
  let aliceToken: string;
  let bobToken: string;
  const serverErrors: unknown[] = [];

  before(async () => {
    idp = await startUpstreamIdp((error) => serverErrors.push(error));
    clientKey = await generateTestKey();
    platform = await startOboTestPlatform({
      trustedIssuer: { issuer: idp.issuer, jwksUri: idp.jwksUri },
      clients: [
        {
          clientId: 'orders-mcp',
          authentication: 'client_secret_post',
          clientSecret: SECRET,
          audiences: [ORDERS_APP],
        },
        {
          clientId: 'orders-mcp-basic',
          authentication: 'client_secret_basic',
          clientSecret: SECRET,
          audiences: [ORDERS_APP],
        },
        {
          clientId: 'reports-mcp',
          authentication: 'private_key_jwt',
          jwks: { keys: [clientKey.publicJwk] },
          audiences: [REPORTS_APP],
        },
      ],
      onError: (error) => serverErrors.push(error),
    });
    [aliceToken, bobToken] = await Promise.all([
      userAccessToken(idp, 'alice', ORDERS_APP),
      userAccessToken(idp, 'bob', ORDERS_APP),
    ]);
  });
  after(async () => {
    await platform.close();
    await idp.close();
    assert.deepEqual(serverErrors, [], 'neither server reported errors');
  });

  const connector = (overrides: Partial<EntraOboConnectorOptions> = {}) =>
    entraOboConnector({
      tokenEndpoint: platform.tokenEndpoint,
      clientId: 'orders-mcp',
      clientAuthentication: { method: 'client_secret_post', clientSecret: SECRET },
      ...overrides,
    });

  it("exchanges the user's token for a platform token for the same user (client_secret_post)", async () => {
    const token = await connector().token({ user: alice, scopes: ['files:read'], subjectToken: aliceToken });
    const claims = await platform.verifyAccessToken(token.accessToken);
    assert.equal(claims.sub, 'user-alice');
    assert.equal(claims.client_id, 'orders-mcp');
    assert.equal(claims.scope, 'files:read');
    assert.equal(token.scope, 'files:read');
  });

  it('authenticates with client_secret_basic', async () => {
    const token = await connector({
      clientId: 'orders-mcp-basic',
      clientAuthentication: { method: 'client_secret_basic', clientSecret: SECRET },
    }).token({ user: bob, scopes: ['files:read'], subjectToken: bobToken });
    assert.equal((await platform.verifyAccessToken(token.accessToken)).sub, 'user-bob');
  });

  it('authenticates with private_key_jwt', async () => {
    const subjectToken = await userAccessToken(idp, 'alice', REPORTS_APP);
    const token = await connector({
      clientId: 'reports-mcp',
      clientAuthentication: { method: 'private_key_jwt', privateKey: clientKey.privateJwk },
    }).token({ user: alice, scopes: ['files:read', 'files:write'], subjectToken });
    const claims = await platform.verifyAccessToken(token.accessToken);
    assert.equal(claims.sub, 'user-alice');
    assert.equal(claims.client_id, 'reports-mcp');
    assert.equal(claims.scope, 'files:read files:write');
  });

  it('refuses a request without the subject token before contacting the platform', async () => {
    const sent = platform.tokenRequests.length;
    for (const subjectToken of [undefined, '']) {
      await expectConnectorError(
        connector().token({
          user: alice,
          scopes: ['files:read'],
          ...(subjectToken === undefined ? {} : { subjectToken }),
        }),
        'ERR_CONNECTOR_SUBJECT_TOKEN_MISSING',
      );
    }
    assert.equal(platform.tokenRequests.length, sent);
  });

  it('surfaces a wrong client secret as invalid_client', async () => {
    const error = await expectConnectorError(
      connector({
        clientAuthentication: { method: 'client_secret_post', clientSecret: 'not-the-secret' },
      }).token({
        user: alice,
        scopes: ['files:read'],
        subjectToken: aliceToken,
      }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_client',
    );
    assert.equal(error.status, 401);
    assert.doesNotMatch(error.message, /not-the-secret/);
  });

  it('surfaces a subject token issued for another audience as invalid_grant', async () => {
    const subjectToken = await userAccessToken(idp, 'alice', OTHER_APP);
    const error = await expectConnectorError(
      connector().token({ user: alice, scopes: ['files:read'], subjectToken }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_grant',
    );
    assert.equal(error.oauthErrorDescription, 'assertion audience is not the expected one');
  });

  it('surfaces a token from an issuer the platform does not trust as invalid_grant', async () => {
    const forger = await generateTestKey();
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: 'orders:read' })
      .setProtectedHeader({ alg: 'ES256', kid: forger.privateJwk.kid!, typ: 'at+jwt' })
      .setIssuer(idp.issuer)
      .setSubject('user-alice')
      .setAudience(ORDERS_APP)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(forger.privateJwk);
    const error = await expectConnectorError(
      connector().token({ user: alice, scopes: ['files:read'], subjectToken: forged }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_grant',
    );
    assert.match(error.oauthErrorDescription ?? '', /signature/);
  });

  it('surfaces a scope the platform does not offer as invalid_scope', async () => {
    await expectConnectorError(
      connector().token({ user: alice, scopes: ['mail:send'], subjectToken: aliceToken }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_scope',
    );
  });

  it('reports a platform that is down as unavailable', async () => {
    const tokenEndpoint = await unreachableTokenEndpoint();
    await expectConnectorError(
      connector({ tokenEndpoint }).token({ user: alice, scopes: ['files:read'], subjectToken: aliceToken }),
      'ERR_CONNECTOR_UNAVAILABLE',
    );
  });

  it('serves the second request for the same user from the cache, and never gives it to another user', async () => {
    const obo = connector();
    const sent = platform.tokenRequests.length;
    const first = await obo.token({ user: alice, scopes: ['files:read'], subjectToken: aliceToken });
    const again = await obo.token({ user: alice, scopes: ['files:read'], subjectToken: aliceToken });
    const forBob = await obo.token({ user: bob, scopes: ['files:read'], subjectToken: bobToken });
    assert.equal(again.accessToken, first.accessToken);
    assert.notEqual(forBob.accessToken, first.accessToken);
    assert.equal((await platform.verifyAccessToken(forBob.accessToken)).sub, 'user-bob');
    assert.equal(platform.tokenRequests.length, sent + 2);
  });

  it('refuses to be built without client authentication', () => {
    assert.throws(
      () => connector({ clientAuthentication: { method: 'none' } as never }),
      /needs client authentication/,
    );
    assert.throws(
      () => connector({ clientAuthentication: { method: 'client_secret_post', clientSecret: '' } }),
      /clientSecret is required/,
    );
  });
});
