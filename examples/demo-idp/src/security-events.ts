import { DELIVERY_METHODS, mintSecurityEventToken, pushSet, type SecurityEvent } from '@baton/shared-signals';
import { importJWK, type JWK } from 'jose';
import { SIGNING_ALG } from './keys.ts';

/** A receiver of the IdP's Security Event Tokens (RFC 8935 push). */
export interface SignalReceiver {
  /** Where SETs are POSTed (`application/secevent+jwt`). */
  endpoint: string;
  /** The SET's `aud`: the receiver's identifier, as it checks it. */
  audience: string;
}

export interface SignalsOptions {
  receivers: readonly SignalReceiver[];
  /** Delivery attempts per SET and receiver before it is given up (and reported to `onError`). Default 5. */
  maxAttempts?: number;
  /** Delay before the first retry, doubled for each next one, milliseconds. Default 200. */
  retryDelayMs?: number;
  /** The fetch SETs are pushed with (e.g. one trusting a receiver's internal CA). Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** A receiver refused a SET (RFC 8935 §2.3 error, or an HTTP status); retried only when it may pass later. */
export class SetDeliveryError extends Error {
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly retriable: boolean;
  constructor(endpoint: string, status: number | undefined, retriable: boolean, detail: string) {
    super(`SET delivery to ${endpoint} failed: ${detail}`);
    this.name = 'SetDeliveryError';
    this.endpoint = endpoint;
    this.status = status;
    this.retriable = retriable;
  }
}

/**
 * The demo IdP's Shared Signals transmitter, minimal: one event per Security Event Token (RFC 8417),
 * signed with the IdP's own key (so receivers verify it against the IdP's JWKS), `typ: secevent+jwt`,
 * pushed to every configured receiver (RFC 8935), retried with backoff when the receiver is unreachable
 * or answers 5xx/429 or a redirect (never followed). No stream management (SSF configuration endpoint, poll, verification events): the
 * receivers are configured.
 */
export class SignalTransmitter {
  readonly #issuer: string;
  readonly #key: Promise<CryptoKey | Uint8Array>;
  readonly #kid: string;
  readonly #receivers: readonly SignalReceiver[];
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #fetch: typeof fetch;
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(
    options: SignalsOptions & { issuer: string; signingJwk: JWK; onError: (error: unknown) => void },
  ) {
    if (!Array.isArray(options.receivers)) throw new TypeError('signals.receivers must be an array');
    for (const receiver of options.receivers) {
      if (!URL.canParse(receiver?.endpoint) || typeof receiver.audience !== 'string' || !receiver.audience) {
        throw new TypeError('each signals receiver needs an endpoint URL and an audience');
      }
    }
    this.#issuer = options.issuer;
    this.#key = importJWK(options.signingJwk, SIGNING_ALG);
    if (!options.signingJwk.kid) throw new TypeError('the signing key needs a kid: receivers find it by kid');
    this.#kid = options.signingJwk.kid;
    this.#receivers = options.receivers;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#retryDelayMs = options.retryDelayMs ?? 200;
    this.#onError = options.onError;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Signs and pushes one event to every receiver, in the background; `idle()` waits for it. */
  emit(event: SecurityEvent): void {
    if (this.#closed) return;
    for (const receiver of this.#receivers) {
      const delivery = this.#deliver(receiver, event).catch(this.#onError);
      this.#pending.add(delivery);
      void delivery.finally(() => this.#pending.delete(delivery));
    }
  }

  /** Resolves once every delivery started so far has succeeded or been given up. */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  /** Stops retrying; deliveries in flight finish. */
  close(): void {
    this.#closed = true;
  }

  /** The SET for one receiver: `iss`, `aud`, `iat`, `jti`, `sub_id` and one event (SSF 1.0 §4). */
  async mint(receiver: SignalReceiver, event: SecurityEvent): Promise<string> {
    return mintSecurityEventToken({
      issuer: this.#issuer,
      audience: receiver.audience,
      events: [event],
      key: { key: await this.#key, kid: this.#kid, alg: SIGNING_ALG },
    });
  }

  async #deliver(receiver: SignalReceiver, event: SecurityEvent): Promise<void> {
    // One SET (one jti) for every attempt: a receiver that got it but whose answer was lost sees a replay.
    const set = await this.mint(receiver, event);
    for (let attempt = 1; ; attempt++) {
      try {
        return await push(this.#fetch, receiver.endpoint, set);
      } catch (error) {
        const retriable = !(error instanceof SetDeliveryError) || error.retriable;
        if (!retriable || attempt >= this.#maxAttempts || this.#closed) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs * 2 ** (attempt - 1)));
      }
    }
  }
}

/**
 * RFC 8935 §2 through the library's one push (`pushSet`): 202 is delivered; 400 with `err` a refusal,
 * not retried; anything else, a redirect included (never followed, so the SET goes nowhere but the
 * configured endpoint), fails; it is retried unless it is another 4xx than 429.
 */
async function push(send: typeof fetch, endpoint: string, set: string): Promise<void> {
  const outcome = await pushSet(send, { method: DELIVERY_METHODS.push, endpointUrl: endpoint }, set, 5000);
  if (outcome.kind === 'delivered') return;
  if (outcome.kind === 'refused') {
    throw new SetDeliveryError(endpoint, 400, false, `HTTP 400 ${outcome.err}`);
  }
  // As before: a receiver's other 4xx (its configuration, not a passing failure) is not retried.
  const status = outcome.status;
  const retriable = status === undefined || status < 400 || status >= 500 || status === 429;
  throw new SetDeliveryError(endpoint, status, retriable, outcome.why);
}
