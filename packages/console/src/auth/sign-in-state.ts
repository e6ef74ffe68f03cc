import { EncryptJWT, jwtDecrypt } from 'jose';

/** What the callback must see again: the random values bound to one authorization request. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The console page to show after sign-in (a path on this origin). */
  returnTo: string;
}

/** A sign-in must finish within this time. */
export const SIGN_IN_TTL_SECONDS = 600;

/**
 * Seals the pending sign-in into its cookie: a JWE (`dir`, A256GCM) under a key made when the console
 * starts, so the browser holds it without being able to read or change it, and no server-side state
 * grows with unauthenticated requests.
 */
export class SignInSealer {
  readonly #key = crypto.getRandomValues(new Uint8Array(32));

  seal(pending: PendingSignIn): Promise<string> {
    return new EncryptJWT({ ...pending })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(`${SIGN_IN_TTL_SECONDS}s`)
      .encrypt(this.#key);
  }

  /** The pending sign-in, or `undefined` for a cookie that was altered, forged, or is too old. */
  async open(sealed: string): Promise<PendingSignIn | undefined> {
    try {
      const { payload } = await jwtDecrypt(sealed, this.#key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      const { state, nonce, codeVerifier, returnTo } = payload;
      if ([state, nonce, codeVerifier, returnTo].some((value) => typeof value !== 'string')) return undefined;
      return { state, nonce, codeVerifier, returnTo } as PendingSignIn;
    } catch {
      return undefined;
    }
  }
}

/** A path on this console to return to, or `/`: never another origin (`//evil`, `/\evil`). */
export function safeReturnPath(path: string): string {
  return /^\/(?![/\\])[^\s]*$/.test(path) ? path : '/';
}
