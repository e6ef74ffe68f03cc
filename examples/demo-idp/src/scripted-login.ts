import { validateAuthorizationResponseIssuer } from '@modelcontextprotocol/client';
import { CookieJar } from './cookie-jar.ts';
import { OAuthFlowError } from './errors.ts';

/** A sign-in takes about six requests; the cap only turns a redirect loop into an error. */
const MAX_STEPS = 20;
const FORM = /<form method="post" action="([^"]*)" data-step="(login|consent)">/;

interface Step {
  url: URL;
  body?: URLSearchParams;
}

/**
 * Signs in at the demo IdP the way a person with a browser would: follows the authorization request's
 * redirects with its own cookie jar, fills in the login form, approves the consent form, and stops at the
 * redirect back to the client. That final URL (carrying `code`, `state` and `iss`) is returned without
 * being requested, so the caller decides what the client does with it.
 *
 * Throws on a wrong username or password, and an {@link OAuthFlowError} when the IdP answers with an
 * error redirect (`?error=…`) or an error page. With `issuer` (what the client recorded from the
 * authorization server's validated metadata), the redirect's `iss` is checked first (RFC 9207 §2.4, the
 * SDK's `validateAuthorizationResponseIssuer`): a mismatch is the SDK's `IssuerMismatchError`, and an
 * error redirect's `error`/`error_description` are then never read (in a mix-up they are the attacker's).
 */
export async function scriptedLogin(
  authorizationUrl: URL | string,
  credentials: { username: string; password: string },
  options: { jar?: CookieJar; issuer?: ExpectedIssuer } = {},
): Promise<URL> {
  const start = new URL(authorizationUrl);
  const isClientRedirect = clientRedirectMatcher(start);
  // The browser's cookies: pass a jar to keep the sign-in session, e.g. to sign out later.
  const jar = options.jar ?? new CookieJar();
  let step: Step = { url: start };

  for (let count = 0; count < MAX_STEPS; count++) {
    const response = await send(step, jar);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, step.url);
      if (isClientRedirect(next)) return checkAuthorizationResponse(next, options.issuer);
      step = { url: next };
      continue;
    }

    const html = await response.text();
    if (response.status === 401 && step.url.pathname.endsWith('/login')) {
      throw new Error(
        `scriptedLogin: the IdP refused to sign in "${credentials.username}": wrong username or password`,
      );
    }
    if (!response.ok) {
      const error = textOf(html, 'data-error') ?? `http_${response.status}`;
      throw new OAuthFlowError('authorization', error, textOf(html, 'data-error-description'));
    }
    const form = FORM.exec(html);
    if (!form?.[1]) throw new Error(`scriptedLogin: no login or consent form at ${step.url.pathname}`);
    const action = new URL(decodeEntities(form[1]), step.url);
    step =
      form[2] === 'login'
        ? {
            url: action,
            body: new URLSearchParams({ username: credentials.username, password: credentials.password }),
          }
        : { url: action, body: new URLSearchParams() };
  }
  throw new Error(`scriptedLogin: gave up after ${MAX_STEPS} requests without reaching the client`);
}

const LOGOUT_FORM = /<form id="op.logoutForm" method="post" action="([^"]*)">/;
const XSRF = /name="xsrf" value="([^"]*)"/;

/**
 * Signs out of the demo IdP as a person with a browser would (RP-initiated logout without a client):
 * opens the end-session endpoint with the cookies of a {@link scriptedLogin} (its `jar`), and confirms
 * "sign out" on the page it shows. The sign-in session ends; with `signals` configured the IdP sends
 * CAEP `session-revoked`.
 */
export async function scriptedLogout(issuer: string, jar: CookieJar): Promise<void> {
  const start = new URL('/session/end', issuer);
  const page = await send({ url: start }, jar);
  const html = await page.text();
  const action = LOGOUT_FORM.exec(html)?.[1];
  const xsrf = XSRF.exec(html)?.[1];
  if (!page.ok || !action || !xsrf) throw new Error('scriptedLogout: no sign-out page (not signed in?)');
  const confirmed = await send(
    { url: new URL(decodeEntities(action), start), body: new URLSearchParams({ xsrf, logout: 'yes' }) },
    jar,
  );
  await confirmed.body?.cancel();
  if (confirmed.status !== 303) throw new Error(`scriptedLogout: sign-out answered HTTP ${confirmed.status}`);
}

async function send(step: Step, jar: CookieJar): Promise<Response> {
  const headers = new Headers({ accept: 'text/html' });
  const cookie = jar.headerFor(step.url);
  if (cookie) headers.set('cookie', cookie);
  const response = await fetch(step.url, {
    method: step.body ? 'POST' : 'GET',
    headers,
    body: step.body,
    redirect: 'manual',
  });
  jar.store(response);
  return response;
}

/**
 * Recognises the redirect back to the client: by the request's `redirect_uri` when present, otherwise
 * (e.g. with pushed authorization requests) as the first redirect that leaves the IdP's origin.
 */
function clientRedirectMatcher(authorizationUrl: URL): (url: URL) => boolean {
  const redirectUri = URL.parse(authorizationUrl.searchParams.get('redirect_uri') ?? '');
  if (!redirectUri) return (url) => url.origin !== authorizationUrl.origin;
  return (url) => url.origin === redirectUri.origin && url.pathname === redirectUri.pathname;
}

/** RFC 9207: the issuer a client recorded before redirecting, and whether its metadata promised `iss`. */
export interface ExpectedIssuer {
  issuer: string;
  /** `authorization_response_iss_parameter_supported` from the same metadata: then a missing `iss` is refused. */
  issParameterSupported: boolean;
}

function checkAuthorizationResponse(url: URL, expected: ExpectedIssuer | undefined): URL {
  if (expected) {
    validateAuthorizationResponseIssuer({
      iss: url.searchParams.get('iss') ?? undefined,
      expectedIssuer: expected.issuer,
      issParameterSupported: expected.issParameterSupported,
    });
  }
  const error = url.searchParams.get('error');
  if (error) {
    throw new OAuthFlowError('authorization', error, url.searchParams.get('error_description') ?? undefined);
  }
  return url;
}

/** Reads the text of the element marked with `attribute` on the IdP's error page. */
function textOf(html: string, attribute: string): string | undefined {
  const match = new RegExp(`<[a-z]+ ${attribute}>([^<]*)<`).exec(html);
  return match?.[1] ? decodeEntities(match[1]) : undefined;
}

function decodeEntities(value: string): string {
  return value
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}
