import { randomBytes } from 'node:crypto';
import { readRequestBody } from '@modelcontextprotocol/server';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { Approvals } from './approvals.ts';
import type { ApprovalRecord } from './store.ts';

/** A sign-in on the approval page must finish within this time. */
const SIGN_IN_SECONDS = 600;
/**
 * The cookie binding a sign-in to the browser that started it. On an https origin it is a `__Host-`
 * cookie (`Secure`, `Path=/`, no `Domain`: no other host or plain-http page can set or read it); on
 * http (a loopback development origin, where a browser refuses `Secure`) a plain name scoped to the
 * approval path. Both `HttpOnly; SameSite=Lax`.
 */
const STATE_COOKIE = 'baton-approval-state';
const SECURE_STATE_COOKIE = `__Host-${STATE_COOKIE}`;
/** The most an approval form post may carry: a form token and a decision are a few dozen bytes. */
export const MAX_FORM_BYTES = 16 * 1024;
/** How far the IdP's clock may be behind ours when `auth_time` is compared with the sign-in's start. */
const AUTH_TIME_SKEW_SECONDS = 10;
/** The page's own policy: nothing loads, nothing runs, forms post only here. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer a browser posts the form with `Origin: null`, which
  // the boundary's origin check (DNS-rebinding and cross-site defence) rightly refuses.
  'referrer-policy': 'same-origin',
};

interface PendingSignIn {
  approvalId: string;
  nonce: string;
  codeVerifier: string;
  /** When the sign-in started (epoch seconds): the ID token's `auth_time` may not be earlier. */
  startedAt: number;
}

/**
 * The approval pages the boundary serves under `approval.path` on the resource's origin:
 *
 * - `GET <path>/<id>`: starts an OpenID Connect sign-in (authorization code + PKCE, `state` bound to
 *   this browser by a cookie, `nonce`) at the IdP the boundary trusts;
 * - `GET <path>/callback`: completes it with openid-client (ID token validated); the signed-in person
 *   must be the token's person (`sub`, same issuer), else the refusal is audited
 *   (`approval_wrong_person`), and must have signed in just now (`prompt=login` and `max_age=0` are
 *   asked for, and the ID token's `auth_time` must not be before the sign-in started, less a small
 *   clock skew), else the refusal is audited (`approval_sign_in_stale`); then shows exactly this tool, its input and the agent, with Approve and
 *   Deny, and a one-time form token that stands for this sign-in;
 * - `POST <path>/<id>`: records the decision (once, in time) and audits it (`tool.approve`). Its body
 *   is read up to `MAX_FORM_BYTES` (a larger one is a 413 before the form token is looked at).
 *
 * The input shown is escaped for HTML, and its bidirectional-override and control characters are
 * shown as `\u{…}`, so that what the person reads is what runs.
 *
 * No token reaches the page, its log or the audit: the ID token is only read for `sub`.
 */
export class ApprovalPages {
  readonly #approvals: Approvals;
  readonly #logger: Logger;
  #configuration: Promise<oidc.Configuration> | undefined;

  readonly #cookie: { name: string; attributes: string };

  constructor(approvals: Approvals, logger: Logger) {
    this.#approvals = approvals;
    this.#logger = logger;
    this.#cookie =
      new URL(approvals.redirectUri).protocol === 'https:'
        ? { name: SECURE_STATE_COOKIE, attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax' }
        : { name: STATE_COOKIE, attributes: `Path=${approvals.path}; HttpOnly; SameSite=Lax` };
  }

  /** The approvals' clock, epoch seconds. */
  #now(): number {
    return Math.floor((this.#approvals.options.now ?? Date.now)() / 1000);
  }

  /** Whether `path` is one of the approval pages. */
  owns(path: string): boolean {
    return path.startsWith(`${this.#approvals.path}/`);
  }

  async handle(request: Request, url: URL): Promise<Response> {
    const rest = url.pathname.slice(this.#approvals.path.length + 1);
    try {
      if (rest === 'callback' && request.method === 'GET') return await this.#callback(request, url);
      if (/^[A-Za-z0-9_-]{10,64}$/.test(rest)) {
        if (request.method === 'GET') return await this.#start(rest);
        if (request.method === 'POST') return await this.#decide(rest, request);
      }
      return page(404, 'Not found', '<p>There is no such approval page.</p>');
    } catch (error) {
      this.#logger.error({ err_name: (error as Error)?.name }, 'approval page failed');
      return page(
        500,
        'Something went wrong',
        '<p>The approval could not be completed. Ask your assistant to try again.</p>',
      );
    }
  }

  async #start(id: string): Promise<Response> {
    const record = await this.#approvals.store.get(id);
    const closed = await this.#closed(record);
    if (closed) return closed;
    const configuration = await this.#discover();
    const state = oidc.randomState();
    const pending: PendingSignIn = {
      approvalId: id,
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      startedAt: this.#now(),
    };
    await this.#approvals.store.putValue(`signin:${state}`, JSON.stringify(pending), SIGN_IN_SECONDS);
    const authorization = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#approvals.redirectUri,
      scope: 'openid',
      state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      // The person signs in now, even with a session at the IdP: approving is a fresh act. Both are
      // requests the IdP may ignore: the callback checks `auth_time`.
      prompt: 'login',
      max_age: '0',
    });
    return new Response(null, {
      status: 303,
      headers: {
        location: authorization.href,
        'cache-control': 'no-store',
        'set-cookie': `${this.#cookie.name}=${state}; ${this.#cookie.attributes}; Max-Age=${SIGN_IN_SECONDS}`,
      },
    });
  }

  async #callback(request: Request, url: URL): Promise<Response> {
    const state = url.searchParams.get('state') ?? '';
    const cookieState = cookieValue(request.headers.get('cookie'), this.#cookie.name);
    // The sign-in this browser started, and only once.
    const stored =
      state && cookieState === state ? await this.#approvals.store.takeValue(`signin:${state}`) : undefined;
    if (!stored)
      return page(
        400,
        'Sign-in not recognised',
        '<p>This sign-in does not belong to an approval this browser started. Open the approval link again.</p>',
      );
    const pending = JSON.parse(stored) as PendingSignIn;
    const record = await this.#approvals.store.get(pending.approvalId);
    const closed = await this.#closed(record);
    if (closed || !record)
      return closed ?? page(410, 'Gone', '<p>This approval request no longer exists.</p>');
    const configuration = await this.#discover();
    const callback = new URL(this.#approvals.redirectUri);
    callback.search = url.search;
    let sub: string | undefined;
    let issuer: string | undefined;
    let authTime: unknown;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      sub = claims?.sub;
      issuer = claims?.iss;
      authTime = claims?.auth_time;
    } catch (error) {
      this.#logger.warn(
        { err_name: (error as Error)?.name, approval_id: record.id },
        'approval sign-in failed',
      );
      return page(403, 'Not signed in', '<p>The identity provider did not sign you in.</p>');
    }
    if (sub !== record.subject || issuer !== record.issuer) {
      // Another person (or another issuer's) cannot approve what was asked for this one.
      await this.#approvals.recordDecision(record, 'denied', 'approval_wrong_person', sub);
      this.#logger.warn({ approval_id: record.id, reason: 'approval_wrong_person' }, 'approval refused');
      return page(
        403,
        'Not your approval',
        '<p>This request is waiting for the approval of another person. Sign in as the person who asked.</p>',
      );
    }
    // Written as a positive test so that a missing start (a sign-in stored before it was recorded) refuses too.
    if (typeof authTime !== 'number' || !(authTime >= pending.startedAt - AUTH_TIME_SKEW_SECONDS)) {
      // An IdP session from before (prompt=login and max_age=0 ignored): not a fresh act of this person.
      await this.#approvals.recordDecision(record, 'denied', 'approval_sign_in_stale', sub);
      this.#logger.warn({ approval_id: record.id, reason: 'approval_sign_in_stale' }, 'approval refused');
      return page(
        403,
        'Sign in again',
        '<p>Approving needs a fresh sign-in, and the identity provider reused an earlier one. Open the approval link again.</p>',
      );
    }
    const formToken = randomBytes(24).toString('base64url');
    await this.#approvals.store.putValue(
      `form:${formToken}`,
      record.id,
      Math.max(1, record.expiresAt - this.#now()),
    );
    return page(
      200,
      `Approve ${record.tool}?`,
      reviewBody(record, `${this.#approvals.path}/${record.id}`, formToken, this.#now()),
    );
  }

  async #decide(id: string, request: Request): Promise<Response> {
    // Read before anyone is known: bounded, so an unauthenticated post cannot make the server buffer it.
    const body = await readRequestBody(request, MAX_FORM_BYTES);
    // The rest of a body too large is left unread: the server drops it with the connection.
    if (body.tooLarge) {
      const answer = page(413, 'Too large', '<p>This form is larger than an approval form can be.</p>');
      answer.headers.set('connection', 'close');
      return answer;
    }
    const form = new URLSearchParams(body.text);
    const token = form.get('form_token') ?? '';
    const decision = form.get('decision');
    const bound = token ? await this.#approvals.store.takeValue(`form:${token}`) : undefined;
    if (bound !== id || (decision !== 'approve' && decision !== 'deny'))
      return page(
        400,
        'Not recognised',
        '<p>This form does not belong to a sign-in for this approval. Open the approval link again.</p>',
      );
    const record = await this.#approvals.store.get(id);
    const closed = await this.#closed(record);
    if (closed || !record)
      return closed ?? page(410, 'Gone', '<p>This approval request no longer exists.</p>');
    const to = decision === 'approve' ? 'approved' : 'denied';
    const moved = await this.#approvals.store.transition(
      id,
      'pending',
      to,
      Math.max(1, record.expiresAt - this.#now()) + 600,
    );
    if (!moved) return page(409, 'Already answered', '<p>This request was already answered.</p>');
    await this.#approvals.recordDecision(
      record,
      to === 'approved' ? 'ok' : 'denied',
      to === 'approved' ? undefined : 'approval_denied',
    );
    return to === 'approved'
      ? page(
          200,
          'Approved',
          `<p id="outcome" data-outcome="approved">You approved <strong>${escapeHtml(record.tool)}</strong>. Return to your assistant: it can run the call now, once.</p>`,
        )
      : page(
          200,
          'Denied',
          `<p id="outcome" data-outcome="denied">You denied <strong>${escapeHtml(record.tool)}</strong>. It will not run.</p>`,
        );
  }

  /** The page for a request that cannot be answered any more, or undefined when it still can. */
  async #closed(record: ApprovalRecord | undefined): Promise<Response | undefined> {
    if (!record) return page(404, 'Unknown approval', '<p>There is no such approval request.</p>');
    if (record.expiresAt <= this.#now()) {
      if (record.status === 'pending')
        await this.#approvals.recordDecision(record, 'denied', 'approval_expired');
      return page(
        410,
        'Expired',
        '<p>This approval request has expired. Ask your assistant to try again.</p>',
      );
    }
    if (record.status !== 'pending')
      return page(409, 'Already answered', '<p>This request was already answered.</p>');
    return undefined;
  }

  #discover(): Promise<oidc.Configuration> {
    if (!this.#configuration) {
      const { issuer, clientId, clientSecret } = this.#approvals.options;
      const attempt = oidc.discovery(
        new URL(issuer),
        clientId,
        { redirect_uris: [this.#approvals.redirectUri], response_types: ['code'] },
        clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(clientSecret),
        {
          timeout: 10,
          ...(new URL(issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
        },
      );
      this.#configuration = attempt;
      attempt.catch(() => {
        if (this.#configuration === attempt) this.#configuration = undefined;
      });
    }
    return this.#configuration;
  }
}

function reviewBody(record: ApprovalRecord, action: string, formToken: string, now: number): string {
  const minutes = Math.max(1, Math.round((record.expiresAt - now) / 60));
  // JSON.stringify escapes C0 controls inside strings: a raw line feed in it is layout, kept.
  const input = visible(JSON.stringify(record.input, null, 2), /[^\P{Cc}\n]|\p{Cf}/gu);
  return `<p>Your assistant asks to run a tool for you. Check exactly what will run:</p>
<dl>
<dt>Tool</dt><dd id="tool"><code>${escapeHtml(visible(record.tool))}</code></dd>
<dt>Agent</dt><dd id="agent"><code>${escapeHtml(visible(record.agent))}</code></dd>
<dt>Input</dt><dd><pre id="input">${escapeHtml(input)}</pre></dd>
</dl>
<p>This approval covers this one call with this input, and expires in about ${minutes} minute(s).</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="form_token" value="${formToken}">
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>`;
}

function page(status: number, title: string, body: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.5rem}button{font-size:1rem;margin-right:1rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return new Response(html, { status, headers: PAGE_HEADERS });
}

/**
 * Characters that change how the text around them reads without showing themselves: C0 and C1
 * controls, and format characters (bidirectional embeddings, overrides and isolates U+202A–U+202E,
 * U+2066–U+2069, marks such as U+200E, U+061C, zero-width ones).
 */
const HIDDEN = /[\p{Cc}\p{Cf}]/gu;

/** `text` with each hidden character (see `HIDDEN`, or `pattern`) written out as `\u{…}`. */
function visible(text: string, pattern: RegExp = HIDDEN): string {
  return text.replace(pattern, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
