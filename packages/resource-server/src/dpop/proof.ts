import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { BearerError, invalidDpopProof, useDpopNonce } from '../errors.ts';
import { dpopHtu } from './htu.ts';
import { type DpopNonceOptions, DpopNonces } from './nonce.ts';
import { DpopReplayQuotaExceeded, type DpopReplayStore } from './replay-store.ts';

/**
 * Asymmetric algorithms accepted for DPoP proofs by default (RFC 9449 §11.6: never `none`, never a
 * MAC). The SDK client's `DPOP_SUPPORTED_ALGS`, plus jose's `Ed25519` name for EdDSA.
 */
export const DEFAULT_DPOP_ALGORITHMS = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const);

const ASYMMETRIC = new Set<string>(DEFAULT_DPOP_ALGORITHMS);
/** JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MAX_JTI_LENGTH = 256;
/**
 * Proof keys remembered (a client signs every proof with one key): importing one and computing its
 * thumbprint cost more than the signature check itself. Only keys bound to a verified token get in.
 */
const KNOWN_KEYS = 1_000;

/** A proof key as verified once: its RFC 7638 thumbprint and the key jose's `EmbeddedJWK` imported. */
interface KnownKey {
  readonly jkt: string;
  key?: Awaited<ReturnType<typeof EmbeddedJWK>>;
}

export interface DpopProofOptions {
  /** The replay store: a `jti` is accepted once. Shared by every instance of the resource. Required. */
  replay: DpopReplayStore;
  /** Accepted proof algorithms, all asymmetric. Default `DEFAULT_DPOP_ALGORITHMS`. */
  algorithms?: readonly string[];
  /** How old a proof's `iat` may be, in seconds. Default 60. */
  iatWindowSeconds?: number;
  /** How far ahead of this clock a proof's `iat` may be, in seconds. Default 5. */
  clockSkewSeconds?: number;
  /** Server nonces (RFC 9449 §9): every proof must carry a recent one. Default: none. */
  nonces?: DpopNonceOptions;
}

/** What a request offers to check a proof against. */
export interface DpopProofContext {
  /** The request's method (`htm`). */
  method: string;
  /** The resource's public URL for this request (`htu`): from configuration, never from `Host`. */
  htu: string | URL;
  /** The access token presented with the proof (`ath`, RFC 9449 §4.3 step 11). */
  accessToken: string;
  /** The token's `cnf.jkt` (RFC 9449 §6.1): the proof's key must have this thumbprint. */
  jkt: string;
}

/** A proof that passed every check: its key's thumbprint and its `jti` (now spent). */
export interface VerifiedDpopProof {
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
}

/**
 * Verifies DPoP proofs for one resource (RFC 9449 §4.3 and §7.1), with `jose`: one `DPoP` JWT with
 * `typ: dpop+jwt`, an allowed asymmetric `alg`, a public `jwk` that verifies the signature, `htm` and
 * `htu` of this request (query and fragment ignored), `iat` inside the window, the server nonce when
 * nonces are on, `ath` of the presented token, the key's RFC 7638 thumbprint equal to the token's
 * `cnf.jkt`, and a `jti` not seen before (checked last, so a proof refused for another reason does
 * not spend its `jti`). The key, `htm`, `htu` and `iat` are compared before the signature is checked,
 * so a proof that could not pass costs no signature check. Throws `BearerError`:
 * `invalid_dpop_proof` (`dpop_replay_quota` when the store refuses this key more proofs),
 * `use_dpop_nonce`, or 503 when the replay store cannot answer.
 *
 * @example
 * const proofs = new DpopProofVerifier({ replay: new MemoryDpopReplayStore() });
 * await proofs.verify(proof, { method: 'POST', htu: 'https://orders.example/mcp', accessToken, jkt });
 */
export class DpopProofVerifier {
  readonly algorithms: readonly string[];
  readonly nonces: DpopNonces | undefined;
  readonly #replay: DpopReplayStore;
  readonly #iatWindowSeconds: number;
  readonly #clockSkewSeconds: number;
  /**
   * `alg` and the header's `jwk` exactly as sent → its thumbprint and imported key, for keys that have
   * verified a proof; the same text is the same key, so nothing is taken on trust. Bounded, oldest out.
   */
  readonly #known = new Map<string, KnownKey>();

  constructor(options: DpopProofOptions) {
    if (typeof options?.replay?.unique !== 'function')
      throw new TypeError('DpopProofVerifier: replay (a DpopReplayStore) is required');
    const algorithms = [...(options.algorithms ?? DEFAULT_DPOP_ALGORITHMS)];
    if (algorithms.length === 0 || algorithms.some((alg) => !ASYMMETRIC.has(alg)))
      throw new TypeError(
        `DpopProofVerifier: algorithms must be asymmetric JWS algorithms among ${DEFAULT_DPOP_ALGORITHMS.join(', ')}`,
      );
    const iatWindowSeconds = options.iatWindowSeconds ?? 60;
    const clockSkewSeconds = options.clockSkewSeconds ?? 5;
    if (!(iatWindowSeconds > 0 && iatWindowSeconds <= 600))
      throw new TypeError('DpopProofVerifier: iatWindowSeconds must be in (0, 600]');
    if (!(clockSkewSeconds >= 0 && clockSkewSeconds <= 60))
      throw new TypeError('DpopProofVerifier: clockSkewSeconds must be in [0, 60]');
    this.algorithms = Object.freeze(algorithms);
    this.#replay = options.replay;
    this.#iatWindowSeconds = iatWindowSeconds;
    this.#clockSkewSeconds = clockSkewSeconds;
    this.nonces = options.nonces ? new DpopNonces(options.nonces) : undefined;
  }

  async verify(proof: string, context: DpopProofContext): Promise<VerifiedDpopProof> {
    const expected = dpopHtu(context.htu);
    if (expected === undefined) throw new TypeError('DpopProofVerifier: htu must be an absolute http(s) URL');
    const { jwk, alg } = this.#checkedHeader(proof);
    const id = `${alg} ${JSON.stringify(jwk)}`;
    let known = this.#known.get(id);
    if (!known) {
      try {
        known = { jkt: await calculateJwkThumbprint(jwk, 'sha256') };
      } catch (error) {
        throw this.#refused('dpop_jwk_invalid', 'the DPoP proof jwk is not a usable public key', error);
      }
    }
    const entry = known;
    const { jkt } = entry;
    // The cheap checks first, on the claims as sent, so that a proof for another key, method, URL or
    // time costs no signature check and no key import; the signature then vouches for all of them.
    if (jkt !== context.jkt)
      throw this.#refused('dpop_key_mismatch', 'the DPoP proof is signed by a key the token is not bound to');
    let claims: JWTPayload;
    try {
      claims = decodeJwt(proof);
    } catch (error) {
      throw this.#refused('dpop_proof_malformed', 'the DPoP proof is malformed', error);
    }
    const { jti, htm, htu, iat } = claims as { jti?: unknown; htm?: unknown; htu?: unknown; iat?: unknown };
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH)
      throw this.#refused('dpop_proof_malformed', 'the DPoP proof needs a jti');
    if (typeof htm !== 'string' || htm !== context.method.toUpperCase())
      throw this.#refused('dpop_htm_mismatch', 'the DPoP proof is for another HTTP method');
    if (typeof htu !== 'string' || dpopHtu(htu) !== expected)
      throw this.#refused('dpop_htu_mismatch', 'the DPoP proof is for another URL');
    const now = Date.now() / 1000;
    if (typeof iat !== 'number' || iat < now - this.#iatWindowSeconds || iat > now + this.#clockSkewSeconds)
      throw this.#refused('dpop_iat_invalid', 'the DPoP proof was not made just now');
    let payload: JWTPayload;
    try {
      // jose's `EmbeddedJWK` (the `jwk` header, which must be a public key), imported once per key.
      const key: JWTVerifyGetKey = async (header, token) => {
        entry.key ??= await EmbeddedJWK(header, token);
        return entry.key;
      };
      ({ payload } = await jwtVerify(proof, key, { typ: 'dpop+jwt', algorithms: [...this.algorithms] }));
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed)
        throw this.#refused('dpop_signature_invalid', 'the DPoP proof signature is invalid', error);
      throw this.#refused('dpop_proof_malformed', 'the DPoP proof is malformed', error);
    }
    // Remembered only once it has signed a proof and is the key of a verified token's `cnf.jkt`:
    // a key made up by the caller never gets in, only keys the authorization server has bound tokens
    // to, so the bound (oldest out) is shared by the clients of that authorization server alone.
    if (!this.#known.has(id)) {
      if (this.#known.size >= KNOWN_KEYS) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(id, entry);
    }
    if (this.nonces) {
      const nonce = payload.nonce;
      if (typeof nonce !== 'string') throw useDpopNonce('dpop_nonce_required', this.nonces.issue(now));
      const verdict = this.nonces.check(nonce, now);
      if (verdict !== 'valid')
        throw useDpopNonce(
          verdict === 'expired' ? 'dpop_nonce_expired' : 'dpop_nonce_invalid',
          this.nonces.issue(now),
        );
    }
    if (payload.ath !== accessTokenHash(context.accessToken))
      throw this.#refused('dpop_ath_mismatch', 'the DPoP proof is for another access token');
    // Keyed by the proof key too, so that one client's jti never collides with another's.
    const key = createHash('sha256').update(`${jkt}\0${jti}`).digest('base64url');
    let unique: boolean;
    try {
      unique = await this.#replay.unique(
        key,
        Math.ceil(iat + this.#iatWindowSeconds + this.#clockSkewSeconds),
        jkt,
      );
    } catch (error) {
      // One key holding its share of the store: that client is refused, not every client.
      if (error instanceof DpopReplayQuotaExceeded)
        throw this.#refused(
          'dpop_replay_quota',
          'too many DPoP proofs by this key in a short time; try again later',
          error,
        );
      throw new BearerError(
        {
          error: 'temporarily_unavailable',
          status: 503,
          reason: 'dpop_replay_check_unavailable',
          description: 'the DPoP proof could not be checked right now; try again later',
        },
        { cause: error },
      );
    }
    if (!unique) throw this.#refused('dpop_proof_replayed', 'the DPoP proof has been used before');
    return Object.freeze({ jkt, jti, iat });
  }

  /** A fresh nonce to hand out with responses, when nonces are on. */
  freshNonce(): string | undefined {
    return this.nonces?.issue();
  }

  /** The header checks jose would fold into one error, each with its own reason; the `jwk` and `alg`. */
  #checkedHeader(proof: string): { jwk: JWK; alg: string } {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(proof);
    } catch (error) {
      throw this.#refused('dpop_proof_malformed', 'the DPoP proof is malformed', error);
    }
    // RFC 7515 §4.1.9: the `application/` prefix may be left out, and media types compare case-insensitively.
    if (
      typeof header.typ !== 'string' ||
      header.typ.toLowerCase().replace(/^application\//, '') !== 'dpop+jwt'
    )
      throw this.#refused('dpop_typ_invalid', 'the DPoP proof typ must be dpop+jwt');
    if (typeof header.alg !== 'string' || !this.algorithms.includes(header.alg))
      throw this.#refused('dpop_alg_not_allowed', 'the DPoP proof algorithm is not accepted');
    const jwk = header.jwk;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
      throw this.#refused('dpop_jwk_invalid', 'the DPoP proof must carry its public key as jwk');
    // A private key in the header is a client bug that has leaked the key: refuse it outright.
    if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk))
      throw this.#refused('dpop_jwk_invalid', 'the DPoP proof jwk must be a public key');
    return { jwk, alg: header.alg };
  }

  /** An `invalid_dpop_proof` refusal, with a fresh nonce when nonces are on (RFC 9449 §8.2). */
  #refused(
    reason: Parameters<typeof invalidDpopProof>[0],
    description: string,
    cause?: unknown,
  ): BearerError {
    return invalidDpopProof(reason, description, { cause, dpopNonce: this.nonces?.issue() });
  }
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII form. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}
