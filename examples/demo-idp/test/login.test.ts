import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CookieJar } from '../src/cookie-jar.ts';
import { type DemoIdp, OAuthFlowError, scriptedLogin, startDemoIdp } from '../src/index.ts';

const ORDERS = 'http://127.0.0.1:4100/mcp';
const REDIRECT_URI = 'http://127.0.0.1:4999/callback';

describe('interactive sign-in', () => {
  let idp: DemoIdp;
  let clientId: string;

  before(async () => {
    idp = await startDemoIdp({ resources: [{ resource: ORDERS, scopes: ['orders:read', 'orders:write'] }] });
    const response = await fetch(new URL('/reg', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: '<script>alert("owned")</script>',
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  after(() => idp.close());

  function authorizationUrl(extra: Record<string, string> = {}): URL {
    const url = new URL('/auth', idp.issuer);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'orders:read',
      resource: ORDERS,
      state: 'state-123',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    }).toString();
    return url;
  }

  it('returns the redirect to the client with code, state and iss, without following it', async () => {
    const callback = await scriptedLogin(authorizationUrl(), {
      username: 'alice',
      password: 'alice-demo-pw',
    });
    assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
    assert.ok(callback.searchParams.get('code'));
    assert.equal(callback.searchParams.get('state'), 'state-123');
    assert.equal(callback.searchParams.get('iss'), idp.issuer, 'RFC 9207 issuer identification');
  });

  it('throws a clear error on a wrong password', async () => {
    await assert.rejects(scriptedLogin(authorizationUrl(), { username: 'bob', password: 'guess' }), {
      message: /refused to sign in "bob": wrong username or password/,
    });
  });

  it('throws a clear error on an unknown user', async () => {
    await assert.rejects(scriptedLogin(authorizationUrl(), { username: 'mallory', password: 'x' }), {
      message: /wrong username or password/,
    });
  });

  it('reports an error redirect with its OAuth error code', async () => {
    const withoutPkce = authorizationUrl();
    withoutPkce.searchParams.delete('code_challenge');
    withoutPkce.searchParams.delete('code_challenge_method');
    await assert.rejects(
      scriptedLogin(withoutPkce, { username: 'alice', password: 'alice-demo-pw' }),
      (error: unknown) => error instanceof OAuthFlowError && error.error === 'invalid_request',
    );
  });

  it('reports an error page (unregistered redirect_uri) with its OAuth error code', async () => {
    const url = authorizationUrl({ redirect_uri: 'http://127.0.0.1:4999/elsewhere' });
    await assert.rejects(
      scriptedLogin(url, { username: 'alice', password: 'alice-demo-pw' }),
      (error: unknown) => error instanceof OAuthFlowError && error.error === 'invalid_redirect_uri',
    );
  });

  it('serves a login form a person can use, escaping the client name', async () => {
    const start = await fetch(authorizationUrl(), { redirect: 'manual' });
    const location = new URL(start.headers.get('location')!, idp.issuer);
    assert.match(location.pathname, /^\/interaction\/[\w-]+$/);
    const cookie = start.headers
      .getSetCookie()
      .map((header) => header.split(';')[0])
      .join('; ');
    const page = await fetch(location, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const html = await page.text();
    assert.match(html, /<input name="password" type="password"/);
    assert.ok(!html.includes('<script>'), 'client-chosen name is escaped');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;'));
  });

  it('answers an interaction without its cookie with an error page, not a crash', async () => {
    const response = await fetch(new URL('/interaction/does-not-exist', idp.issuer));
    assert.equal(response.status, 400);
    assert.match(await response.text(), /data-error/);
  });

  it('lets a person deny consent, which reaches the client as access_denied', async () => {
    const jar = new CookieJar();
    async function visit(url: URL, form?: Record<string, string>) {
      const cookie = jar.headerFor(url);
      const response = await fetch(url, {
        method: form ? 'POST' : 'GET',
        headers: cookie ? { cookie } : {},
        body: form ? new URLSearchParams(form) : undefined,
        redirect: 'manual',
      });
      jar.store(response);
      const location = response.headers.get('location');
      return { response, location: location ? new URL(location, url) : undefined };
    }
    async function followToPage(url: URL) {
      let step = await visit(url);
      while (step.location) step = await visit(step.location);
      return step.response.text();
    }

    const loginHtml = await followToPage(authorizationUrl());
    const loginAction = /action="([^"]+\/login)"/.exec(loginHtml)?.[1];
    assert.ok(loginAction, 'login form');
    const signedIn = await visit(new URL(loginAction, idp.issuer), {
      username: 'bob',
      password: 'bob-demo-pw',
    });
    const consentHtml = await followToPage(signedIn.location!);
    assert.match(consentHtml, /Signed in as <strong>bob<\/strong>/);
    assert.match(consentHtml, /orders:read/);
    const abortAction = /action="([^"]+\/abort)"/.exec(consentHtml)?.[1];
    assert.ok(abortAction, 'deny form');

    let step = await visit(new URL(abortAction, idp.issuer), {});
    while (step.location && step.location.origin === idp.url.origin) step = await visit(step.location);
    assert.ok(step.location);
    assert.equal(`${step.location.origin}${step.location.pathname}`, REDIRECT_URI);
    assert.equal(step.location.searchParams.get('error'), 'access_denied');
    assert.equal(step.location.searchParams.get('state'), 'state-123');
  });
});
