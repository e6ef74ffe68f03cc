import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import {
  AUDIT_CONSOLE_CLIENT_ID,
  auditConsoleRegistration,
  DEMO_AUDITOR,
  DEMO_USERS,
  scriptedLogin,
  startDemoIdp,
} from '@baton/demo-idp';
import { createConsole, NO_SIGN_IN_BEHIND_TRUSTED_PROXY } from '../src/index.ts';
import { cookiePairs, type SignedInConsole, startSignedInConsole } from './fixtures/signed-in.ts';
import { ALICE_TRACE, fixtureEvents, fixtureSink } from './fixtures/three-hop.ts';

/** `GET` with any `Host` header: fetch will not send one that differs from the URL. */
function getWithHost(url: string, host: string, cookie?: string): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: { host, ...(cookie ? { cookie } : {}) },
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

function attributes(setCookie: string): string[] {
  return setCookie
    .split(';')
    .slice(1)
    .map((part) => part.trim());
}

const auditor = { username: DEMO_AUDITOR.username, password: DEMO_AUDITOR.password };
const alice = { username: DEMO_USERS.alice.username, password: DEMO_USERS.alice.password };

describe('signing in to the console', () => {
  let console_: SignedInConsole;
  const audit = new MemoryAuditSink();

  before(async () => {
    console_ = await startSignedInConsole({ reader: await fixtureSink(), audit });
  });
  after(() => console_.close());

  test('an unauthenticated page request is sent to the identity provider: code flow, PKCE S256, state, nonce, resource', async () => {
    const from = console_.logLines.length;
    const response = await console_.get(`/traces/${ALICE_TRACE}`);
    assert.equal(response.status, 303);
    assert.equal(await response.text(), '', 'no audit data before sign-in');
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.origin, console_.idp.issuer);
    const params = location.searchParams;
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('client_id'), AUDIT_CONSOLE_CLIENT_ID);
    assert.equal(params.get('redirect_uri'), new URL('/auth/callback', console_.url).href);
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok(params.get('state') && params.get('nonce'));
    assert.deepEqual(params.get('scope')?.split(' '), ['openid', 'audit:read']);
    assert.equal(params.get('resource'), console_.url);
    const [signInCookie] = response.headers.getSetCookie();
    assert.match(signInCookie!, /^baton-console-sign-in=[^;]+;/);
    assert.deepEqual(attributes(signInCookie!).sort(), ['HttpOnly', 'Max-Age=600', 'Path=/', 'SameSite=Lax']);
    assert.deepEqual(console_.reasonsSince(from), ['session_missing']);
  });

  test('refuses the JSON API without a session: 401 login_required, and nothing is read', async () => {
    const from = console_.logLines.length;
    const response = await console_.get('/api/traces');
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Cookie realm="baton-console"');
    assert.deepEqual(await response.json(), {
      error: 'login_required',
      error_description: 'Sign in to the console in a browser first.',
    });
    assert.deepEqual(console_.reasonsSince(from), ['session_missing']);
  });

  test('the auditor signs in: an HttpOnly, SameSite=Strict session cookie, the sign-in audited, her traces shown', async () => {
    const before = audit.events.length;
    const { callback, cookie, setCookies } = await console_.signIn(auditor, `/traces/${ALICE_TRACE}`);
    assert.equal(callback.status, 200);
    // The page moves on by itself (no script: the CSP forbids it) to where the auditor was going.
    assert.match(
      await callback.text(),
      new RegExp(`<meta http-equiv="refresh" content="0;url=/traces/${ALICE_TRACE}">`),
    );
    const session = setCookies.find((line) => line.startsWith('baton-console-session='))!;
    assert.match(session, /^baton-console-session=[A-Za-z0-9_-]{43};/);
    assert.deepEqual(attributes(session).sort(), ['HttpOnly', 'Max-Age=3600', 'Path=/', 'SameSite=Strict']);
    const page = await console_.get(`/traces/${ALICE_TRACE}`, cookie);
    assert.equal(page.status, 200);
    const body = await page.text();
    assert.match(body, /signed in as <strong>user-erin<\/strong> · tenant <strong>acme<\/strong>/);
    assert.match(body, /<form class="sign-out" method="post" action="\/auth\/sign-out">/);
    const recorded = audit.events.slice(before);
    assert.deepEqual(
      recorded.map((event) => [
        event.initiator.sub,
        event.initiator.tenant,
        event.target.name,
        event.outcome,
      ]),
      [['user-erin', 'acme', 'audit console sign-in', 'ok']],
    );
  });

  test('refuses a user without audit:read (alice) after sign-in: 403 access_denied, audited as permission_missing, no session', async () => {
    const from = console_.logLines.length;
    const before = audit.events.length;
    const { callback, cookie } = await console_.signIn(alice);
    assert.equal(callback.status, 403);
    const body = await callback.text();
    assert.match(body, /data-error="access_denied"/);
    assert.match(body, /not permitted to read this audit trail/);
    assert.equal(cookie, undefined, 'no session cookie');
    assert.deepEqual(console_.reasonsSince(from), ['session_missing', 'permission_missing']);
    const [event] = audit.events.slice(before) as [AuditEvent];
    assert.deepEqual(
      [event.initiator.sub, event.outcome, event.reason],
      ['user-alice', 'denied', 'permission_missing'],
    );
  });

  test('refuses a callback whose state is not the one this browser started (an attacker’s own code pushed into a victim’s browser)', async () => {
    // The attacker runs a sign-in of their own and keeps the callback URL instead of opening it.
    const attackerStart = await console_.get('/');
    const attackerCallback = await scriptedLogin(attackerStart.headers.get('location')!, auditor);
    // The victim's browser has a sign-in of its own in progress; the attacker makes it open theirs.
    const victimStart = await console_.get('/');
    const victimCookie = cookiePairs(victimStart.headers.getSetCookie());
    const from = console_.logLines.length;
    const response = await console_.get(attackerCallback.pathname + attackerCallback.search, victimCookie);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /data-error="invalid_request"/);
    assert.equal(
      response.headers
        .getSetCookie()
        .find((line) => line.includes('session=') && !line.includes('Max-Age=0')),
      undefined,
    );
    assert.deepEqual(console_.reasonsSince(from), ['state_mismatch']);
  });

  test('refuses a callback without the sign-in cookie, and one whose sign-in cookie was forged', async () => {
    const start = await console_.get('/');
    const callback = await scriptedLogin(start.headers.get('location')!, auditor);
    const path = callback.pathname + callback.search;
    let from = console_.logLines.length;
    const missing = await console_.get(path);
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /data-error="invalid_request"/);
    assert.deepEqual(console_.reasonsSince(from), ['sign_in_state_missing']);
    from = console_.logLines.length;
    const [pair] = cookiePairs(start.headers.getSetCookie()).split('=');
    const forged = `${pair}=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`;
    const refused = await console_.get(path, forged);
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /data-error="invalid_request"/);
    assert.deepEqual(console_.reasonsSince(from), ['sign_in_state_invalid']);
  });

  test('refuses an authorization response naming another issuer (RFC 9207 mix-up)', async () => {
    const start = await console_.get('/');
    const cookie = cookiePairs(start.headers.getSetCookie());
    const callback = await scriptedLogin(start.headers.get('location')!, auditor);
    assert.equal(callback.searchParams.get('iss'), console_.idp.issuer, 'the provider sends iss');
    callback.searchParams.set('iss', 'https://evil.example');
    const from = console_.logLines.length;
    const response = await console_.get(callback.pathname + callback.search, cookie);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /data-error="invalid_request"/);
    assert.equal(
      response.headers.getSetCookie().some((line) => /session=[^;]/.test(line)),
      false,
    );
    assert.deepEqual(console_.reasonsSince(from), ['sign_in_failed']);
  });

  test('refuses a tampered session cookie: the page starts a new sign-in, the JSON API is 401', async () => {
    const { cookie } = await console_.signIn(auditor);
    const tampered = cookie!.replace(/=(.)/, (_, first: string) => `=${first === 'A' ? 'B' : 'A'}`);
    const from = console_.logLines.length;
    const page = await console_.get('/', tampered);
    assert.equal(page.status, 303);
    assert.equal(new URL(page.headers.get('location')!).origin, console_.idp.issuer);
    const api = await console_.get('/api/traces', tampered);
    assert.equal(api.status, 401);
    assert.equal(((await api.json()) as { error: string }).error, 'login_required');
    assert.deepEqual(console_.reasonsSince(from), ['session_unknown', 'session_unknown']);
  });

  /** The POST the sign-out button sends from a console page. */
  const signOut = (cookie: string | undefined, headers: Record<string, string> = {}) =>
    fetch(new URL('/auth/sign-out', console_.url), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        origin: new URL(console_.url).origin,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie ? { cookie } : {}),
        ...headers,
      },
      body: '',
    });

  test('sign-out (a same-origin POST) ends the session for every copy of its cookie', async () => {
    const { cookie } = await console_.signIn(auditor);
    assert.equal((await console_.get('/api/traces', cookie)).status, 200);
    const page = await (await console_.get('/', cookie)).text();
    assert.match(
      page,
      /<form class="sign-out" method="post" action="\/auth\/sign-out"><button type="submit">Sign out<\/button><\/form>/,
    );
    const out = await signOut(cookie);
    assert.equal(out.status, 200);
    assert.match(out.headers.getSetCookie()[0]!, /^baton-console-session=; .*Max-Age=0/);
    const from = console_.logLines.length;
    const stolen = await console_.get('/api/traces', cookie);
    assert.equal(stolen.status, 401);
    assert.equal(((await stolen.json()) as { error: string }).error, 'login_required');
    assert.deepEqual(console_.reasonsSince(from), ['session_unknown']);
  });

  test('an attacker who sends the auditor to GET /auth/sign-out (a cross-site link or navigation) gets 405: the session survives', async () => {
    const { cookie } = await console_.signIn(auditor);
    const from = console_.logLines.length;
    const out = await console_.get('/auth/sign-out', cookie, { 'sec-fetch-site': 'cross-site' });
    assert.equal(out.status, 405);
    assert.equal(out.headers.get('allow'), 'POST');
    assert.deepEqual(out.headers.getSetCookie(), [], 'no cookie is cleared');
    assert.match(await out.text(), /method_not_allowed/);
    assert.deepEqual(console_.reasonsSince(from), ['method_not_allowed']);
    assert.equal((await console_.get('/api/traces', cookie)).status, 200);
  });

  test('refuses a sign-out POST that is not from a console page (logout CSRF): 403 invalid_request, audited, the session survives', async () => {
    const { cookie } = await console_.signIn(auditor);
    const consoleOrigin = new URL(console_.url).origin;
    const otherPort = `http://127.0.0.1:${new URL(console_.url).port === '1' ? 2 : 1}`;
    const attacks: Array<{ headers: Record<string, string>; reason: string; person: boolean }> = [
      // Another site's name: refused by the Host/Origin check before the session is looked at.
      {
        headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        reason: 'origin_not_allowed',
        person: false,
      },
      { headers: { 'sec-fetch-site': 'cross-site' }, reason: 'cross_site_request', person: true },
      {
        headers: { origin: consoleOrigin, 'sec-fetch-site': 'same-site' },
        reason: 'cross_site_request',
        person: true,
      },
      { headers: { origin: otherPort }, reason: 'origin_not_allowed', person: true },
      { headers: {}, reason: 'origin_missing', person: true },
    ];
    for (const { headers, reason, person } of attacks) {
      const from = console_.logLines.length;
      const events = audit.events.length;
      const response = await fetch(new URL('/auth/sign-out', console_.url), {
        method: 'POST',
        redirect: 'manual',
        headers: { ...headers, cookie: cookie!, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      const what = JSON.stringify(headers);
      assert.equal(response.status, 403, what);
      assert.match(await response.text(), /data-error="invalid_request"/, what);
      assert.deepEqual(response.headers.getSetCookie(), [], `${what}: no cookie is cleared`);
      assert.deepEqual(console_.reasonsSince(from), [reason], what);
      assert.deepEqual(
        audit.events.slice(events).map((event) => [event.initiator.sub, event.outcome, event.reason]),
        person ? [['user-erin', 'denied', reason]] : [],
        what,
      );
    }
    assert.equal((await console_.get('/api/traces', cookie)).status, 200, 'still signed in');
  });

  test('refuses a DNS-rebinding request (Host: evil.example) with 403, even with a valid session', async () => {
    const { cookie } = await console_.signIn(auditor);
    for (const path of ['/', '/api/traces', `/traces/${ALICE_TRACE}`, '/auth/callback?code=x&state=y']) {
      const from = console_.logLines.length;
      const answer = await getWithHost(new URL(path, console_.url).href, 'evil.example', cookie);
      assert.equal(answer.status, 403, path);
      assert.match(answer.body, /invalid_request/);
      assert.doesNotMatch(answer.body, /alice|order_summary/);
      assert.deepEqual(console_.reasonsSince(from), ['host_not_allowed']);
    }
    const sameHost = await getWithHost(console_.url, new URL(console_.url).host, cookie);
    assert.equal(sameHost.status, 200);
  });

  test('refuses a request from another site (Origin: https://evil.example) with 403', async () => {
    const { cookie } = await console_.signIn(auditor);
    const from = console_.logLines.length;
    const response = await console_.get('/api/traces', cookie, { origin: 'https://evil.example' });
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    assert.deepEqual(console_.reasonsSince(from), ['origin_not_allowed']);
  });

  test('refuses every method but GET and HEAD with 405 (the console stays read-only; only sign-out is a POST)', async () => {
    const { cookie } = await console_.signIn(auditor);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const from = console_.logLines.length;
      const response = await fetch(new URL('/api/traces', console_.url), {
        method,
        headers: { cookie: cookie! },
        body: 'x',
      });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD');
      assert.equal(((await response.json()) as { error: string }).error, 'method_not_allowed');
      assert.deepEqual(console_.reasonsSince(from), ['method_not_allowed']);
    }
  });
});

test('refuses an expired session', async () => {
  const console_ = await startSignedInConsole({
    reader: await fixtureSink(),
    auth: { sessionTtlSeconds: 1 },
  });
  try {
    const { cookie } = await console_.signIn(auditor);
    assert.equal((await console_.get('/api/traces', cookie)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const from = console_.logLines.length;
    const expired = await console_.get('/api/traces', cookie);
    assert.equal(expired.status, 401);
    assert.equal(((await expired.json()) as { error: string }).error, 'login_required');
    assert.deepEqual(console_.reasonsSince(from), ['session_expired']);
  } finally {
    await console_.close();
  }
});

test('refuses an access token for the console that was issued to another client', async () => {
  const console_ = await startSignedInConsole({
    reader: await fixtureSink(),
    auth: {
      tokenVerifier: {
        verify: async () => ({
          issuer: 'x',
          subject: 'user-erin',
          clientId: 'some-other-client',
          scopes: ['audit:read'],
          audience: [],
          expiresAt: 0,
          claims: { tenant: 'acme' },
        }),
      },
    },
  });
  try {
    const from = console_.logLines.length;
    const { callback, cookie } = await console_.signIn(auditor);
    assert.equal(callback.status, 403);
    assert.equal(cookie, undefined);
    assert.deepEqual(console_.reasonsSince(from), ['session_missing', 'access_token_mismatch']);
  } finally {
    await console_.close();
  }
});

test('served over https, both cookies are Secure and carry the __Host- prefix', async () => {
  const clientSecret = 'https-test-secret';
  const registration = auditConsoleRegistration({ consoleUrl: 'https://audit.example/', clientSecret });
  const idp = await startDemoIdp({ resources: [registration.resource], clients: [registration.client] });
  try {
    const app = createConsole({
      reader: await fixtureSink(),
      auth: {
        issuer: idp.issuer,
        clientId: AUDIT_CONSOLE_CLIENT_ID,
        clientSecret,
        redirectUri: registration.redirectUri,
        permission: 'audit:read',
      },
      logger: (await import('@baton/audit')).createLogger({ name: 't', level: 'silent' }),
    });
    const start = await app.fetch(new Request('https://audit.example/'));
    assert.equal(start.status, 303);
    const [signInCookie] = start.headers.getSetCookie();
    assert.match(signInCookie!, /^__Host-baton-console-sign-in=/);
    assert.ok(attributes(signInCookie!).includes('Secure'));
    const callback = await scriptedLogin(start.headers.get('location')!, auditor);
    const done = await app.fetch(
      new Request(callback.href, { headers: { cookie: cookiePairs([signInCookie!]) } }),
    );
    assert.equal(done.status, 200);
    const session = done.headers.getSetCookie().find((line) => line.includes('session='))!;
    assert.match(session, /^__Host-baton-console-session=/);
    assert.deepEqual(attributes(session).sort(), [
      'HttpOnly',
      'Max-Age=3600',
      'Path=/',
      'SameSite=Strict',
      'Secure',
    ]);
    // The names the console answers to default to its public hostname.
    const rebound = await app.fetch(new Request('https://evil.example/'));
    assert.equal(rebound.status, 403);
  } finally {
    await idp.close();
  }
});

test('refuses to build a console without authentication, unless the opt-out is named', () => {
  const reader = new MemoryAuditSink();
  assert.throws(() => createConsole({ reader } as never), /auth is required/);
  assert.throws(() => createConsole({ reader, auth: 'none' as never }), /auth must be/);
  const auth = {
    issuer: 'https://idp.example',
    clientId: 'c',
    redirectUri: 'https://audit.example/auth/callback',
    permission: 'audit:read',
  };
  assert.throws(
    () => createConsole({ reader, auth: { ...auth, issuer: 'http://idp.example' } }),
    /plain http/,
  );
  assert.throws(
    () => createConsole({ reader, auth: { ...auth, redirectUri: 'https://audit.example/' } }),
    /redirectUri/,
  );
  assert.throws(() => createConsole({ reader, auth: { ...auth, permission: '' } }), /permission/);
  assert.ok(createConsole({ reader, auth }));
  assert.ok(createConsole({ reader, auth: NO_SIGN_IN_BEHIND_TRUSTED_PROXY }));
  assert.ok(fixtureEvents().length > 0);
});
