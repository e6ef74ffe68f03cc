import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import {
  AUDIT_READ_SCOPE,
  auditConsoleRegistration,
  DEMO_AUDITOR,
  DEMO_USERS,
  type DemoIdp,
  obtainUserAccessToken,
  startDemoIdp,
} from '../src/index.ts';

const CONSOLE = 'http://127.0.0.1:4020/';

describe('the demo auditor and the audit console registration', () => {
  let idp: DemoIdp;
  const registration = auditConsoleRegistration({ consoleUrl: CONSOLE, clientSecret: 'console-secret' });

  before(async () => {
    idp = await startDemoIdp({ resources: [registration.resource], clients: [registration.client] });
  });
  after(() => idp.close());

  it('registers the console as a confidential client with its one redirect URI', () => {
    assert.equal(registration.redirectUri, 'http://127.0.0.1:4020/auth/callback');
    assert.deepEqual(registration.client.redirect_uris, [registration.redirectUri]);
    assert.equal(registration.client.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(registration.resource, { resource: CONSOLE, scopes: [AUDIT_READ_SCOPE] });
  });

  it('gives erin, the auditor of acme, audit:read for the console, with her tenant', async () => {
    const token = await obtainUserAccessToken(idp, {
      username: DEMO_AUDITOR.username,
      password: DEMO_AUDITOR.password,
      resource: CONSOLE,
      scope: AUDIT_READ_SCOPE,
    });
    const claims = decodeJwt(token.access_token);
    assert.equal(claims.sub, 'user-erin');
    assert.equal(claims.scope, 'audit:read');
    assert.equal(claims.tenant, 'acme');
  });

  it('refuses audit:read to alice and bob, whatever client asks for it', async () => {
    for (const user of [DEMO_USERS.alice, DEMO_USERS.bob]) {
      const token = await obtainUserAccessToken(idp, {
        username: user.username,
        password: user.password,
        resource: CONSOLE,
        scope: AUDIT_READ_SCOPE,
      });
      assert.doesNotMatch(String(decodeJwt(token.access_token).scope ?? ''), /audit:read/, user.username);
    }
  });

  it('keeps the auditor out of DEMO_USERS (the people who use the order system), but lets her sign in by default', () => {
    assert.ok(!Object.values(DEMO_USERS).some((user) => user.allowedScopes.includes(AUDIT_READ_SCOPE)));
    assert.deepEqual(DEMO_AUDITOR.allowedScopes, [AUDIT_READ_SCOPE]);
  });
});
