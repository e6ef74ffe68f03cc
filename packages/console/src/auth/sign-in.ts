import type { Viewer } from '../tenant-scope.ts';
import { type ConsoleCookies, clearCookie, consoleCookies, readCookie, setCookie } from './cookies.ts';
import { OpenIdRelyingParty } from './openid.ts';
import type { SignInSettings } from './options.ts';
import { ConsoleRefusal } from './refusal.ts';
import { SessionStore } from './sessions.ts';
import { SIGN_IN_TTL_SECONDS, SignInSealer, safeReturnPath } from './sign-in-state.ts';

export type ViewerLookup =
  | { ok: true; viewer: Viewer; sessionId: string }
  | { ok: false; reason: 'session_missing' | 'session_unknown' | 'session_expired' };

/**
 * Sign-in for the console: starts the provider's authorization flow, completes it at the callback
 * into a server-side session, finds the session of later requests, and ends it.
 */
export class ConsoleSignIn {
  readonly settings: SignInSettings;
  readonly callbackPath: string;
  /** Starts a fresh sign-in (the provider is asked to authenticate again, to switch user). */
  readonly signInPath = '/auth/sign-in';
  readonly signOutPath = '/auth/sign-out';
  readonly cookies: ConsoleCookies;
  readonly #relyingParty: OpenIdRelyingParty;
  readonly #sessions: SessionStore;
  readonly #sealer = new SignInSealer();

  constructor(settings: SignInSettings) {
    this.settings = settings;
    this.callbackPath = settings.redirectUri.pathname;
    if (this.callbackPath === this.signInPath || this.callbackPath === this.signOutPath)
      throw new TypeError('createConsole: auth.redirectUri must not be the sign-in or sign-out path');
    this.cookies = consoleCookies(settings.secureCookies);
    this.#relyingParty = new OpenIdRelyingParty(settings);
    this.#sessions = new SessionStore(settings.sessionTtlSeconds);
  }

  viewerOf(request: Request): ViewerLookup {
    const id = readCookie(request.headers.get('cookie'), this.cookies.session);
    if (!id) return { ok: false, reason: 'session_missing' };
    const found = this.#sessions.find(id);
    return found.ok ? { ok: true, viewer: found.session.viewer, sessionId: id } : found;
  }

  /** Where to send the browser to sign in, and the sign-in cookie that binds the answer to it. */
  async start(
    returnTo: string,
    options: { reauthenticate: boolean },
  ): Promise<{ location: string; cookie: string }> {
    const { url, pending } = await this.#relyingParty.begin(safeReturnPath(returnTo));
    if (options.reauthenticate) url.searchParams.set('prompt', 'login');
    const cookie = setCookie(this.cookies, this.cookies.signIn, await this.#sealer.seal(pending), {
      sameSite: 'Lax',
      maxAgeSeconds: SIGN_IN_TTL_SECONDS,
    });
    return { location: url.href, cookie };
  }

  /** Completes the sign-in the callback answers; throws `ConsoleRefusal`. */
  async finish(request: Request): Promise<{ viewer: Viewer; cookie: string; returnTo: string }> {
    const sealed = readCookie(request.headers.get('cookie'), this.cookies.signIn);
    if (!sealed) {
      throw new ConsoleRefusal(
        400,
        'invalid_request',
        'No sign-in was started in this browser, or it took too long. Start again from the console.',
        'sign_in_state_missing',
      );
    }
    const pending = await this.#sealer.open(sealed);
    if (!pending) {
      throw new ConsoleRefusal(
        400,
        'invalid_request',
        'This sign-in cannot be completed. Start again from the console.',
        'sign_in_state_invalid',
      );
    }
    const viewer = await this.#relyingParty.complete(new URL(request.url).searchParams, pending);
    const { id } = this.#sessions.create(viewer);
    const cookie = setCookie(this.cookies, this.cookies.session, id, {
      sameSite: 'Strict',
      maxAgeSeconds: this.settings.sessionTtlSeconds,
    });
    return { viewer, cookie, returnTo: pending.returnTo };
  }

  /** The sign-in cookie is single-use: cleared by every callback answer, success or not. */
  clearSignInCookie(): string {
    return clearCookie(this.cookies, this.cookies.signIn, 'Lax');
  }

  /** Ends the request's session (for every copy of its cookie) and clears the cookie. */
  signOut(request: Request): string {
    const id = readCookie(request.headers.get('cookie'), this.cookies.session);
    if (id) this.#sessions.delete(id);
    return clearCookie(this.cookies, this.cookies.session, 'Strict');
  }
}
