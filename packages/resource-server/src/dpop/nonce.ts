import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

export interface DpopNonceOptions {
  /**
   * The secret every instance of the resource shares (at least 32 bytes): a nonce one instance issued
   * is accepted by all, with nothing stored. Required.
   */
  secret: string | Uint8Array;
  /**
   * How long one nonce is issued, in seconds; a nonce is accepted during its window and the next one.
   * Default 300.
   */
  windowSeconds?: number;
}

/** Why a nonce was not accepted. */
export type DpopNonceVerdict = 'valid' | 'invalid' | 'expired';

/**
 * Stateless DPoP server nonces (RFC 9449 §9): a nonce is `<window>.<HMAC-SHA256(secret, window)>`,
 * where `window` is the number of whole `windowSeconds` since the epoch. Any instance holding the
 * secret issues the same nonce for a window and checks one without a store; a nonce from the current
 * or the previous window is accepted, so a proof can only have been made in the last two windows.
 *
 * @example
 * const nonces = new DpopNonces({ secret: process.env.DPOP_NONCE_SECRET! });
 * response.headers.set('DPoP-Nonce', nonces.issue());
 */
export class DpopNonces {
  readonly #secret: KeyObject;
  readonly #windowSeconds: number;
  /** The MACs of the last few windows asked about: a window's MAC never changes, and few are live. */
  readonly #macs = new Map<number, Buffer>();

  constructor(options: DpopNonceOptions) {
    const secret =
      typeof options?.secret === 'string' ? new TextEncoder().encode(options.secret) : options?.secret;
    if (!(secret instanceof Uint8Array) || secret.byteLength < 32)
      throw new TypeError('DpopNonces: secret must be at least 32 bytes');
    const windowSeconds = options.windowSeconds ?? 300;
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
      throw new TypeError('DpopNonces: windowSeconds must be a positive integer');
    this.#secret = createSecretKey(Uint8Array.from(secret));
    this.#windowSeconds = windowSeconds;
  }

  /** The nonce of the window `atSeconds` falls in (default: now). */
  issue(atSeconds: number = Date.now() / 1000): string {
    const window = Math.floor(atSeconds / this.#windowSeconds);
    return `${window}.${this.#mac(window).toString('base64url')}`;
  }

  /** Whether `nonce` is one this secret issued for the current or the previous window. */
  check(nonce: string, atSeconds: number = Date.now() / 1000): DpopNonceVerdict {
    const match = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(nonce);
    if (!match) return 'invalid';
    const window = Number(match[1]);
    const presented = Buffer.from(match[2]!, 'base64url');
    if (!timingSafeEqual(presented, this.#mac(window))) return 'invalid';
    const current = Math.floor(atSeconds / this.#windowSeconds);
    // A window ahead of ours is another instance's clock just past a boundary: accepted, as its own.
    return window >= current - 1 && window <= current + 1 ? 'valid' : 'expired';
  }

  #mac(window: number): Buffer {
    const known = this.#macs.get(window);
    if (known) return known;
    const mac = createHmac('sha256', this.#secret).update(`baton-dpop-nonce:${window}`).digest();
    // Only for windows a nonce could be accepted in: a forged far window must not fill the map.
    const current = Math.floor(Date.now() / 1000 / this.#windowSeconds);
    if (Math.abs(window - current) <= 1) {
      if (this.#macs.size >= 4) this.#macs.delete(this.#macs.keys().next().value!);
      this.#macs.set(window, mac);
    }
    return mac;
  }
}
