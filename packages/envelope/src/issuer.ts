import { randomUUID } from 'node:crypto';
import { signCompact } from './compact-jws.ts';
import { deepFreeze } from './deep-freeze.ts';
import { type Envelope, type EnvelopeBody, EnvelopeBodySchema } from './envelope.ts';
import { EnvelopeError } from './errors.ts';
import { type EnvelopeKeys, type JsonWebKeySet, unixNow } from './key-ring.ts';
import { TXN_TOKEN_TYP } from './txn-token.ts';

export interface EnvelopeIssuerOptions {
  /** This issuer's identifier (`iss`), e.g. the MCP server's canonical resource URI. */
  issuer: string;
  /** The trust domain envelopes are valid in (`aud`). Verifiers must expect the same value. */
  trustDomain: string;
  /**
   * Signing keys: an `EnvelopeKeyRing` for one process, `SharedEnvelopeKeys` for several instances
   * behind one URL (a shared key file or an operator's JWKS).
   */
  keys: EnvelopeKeys;
  /** Envelope lifetime in seconds. Default 300 (five minutes); at most 3600. */
  ttlSeconds?: number;
  /** The requesting workload (`req_wl`); defaults to `issuer`. */
  workload?: string;
  /** Clock, for tests. */
  now?: () => number;
}

export interface MintOptions {
  /** This envelope's lifetime in seconds: a positive integer, capped at the issuer's `ttlSeconds`. */
  ttlSeconds?: number;
  /**
   * The trace this envelope belongs to (a W3C trace-id), in place of the body's `session.trace_id`:
   * how one validated body (see `validateEnvelopeBody`) is minted into each call's own trace.
   */
  traceId?: string;
  /**
   * The workload that asked for this envelope (`req_wl`), when it is not the issuer's own `workload`:
   * a token service names the client that requested the Transaction Token (draft-10 §7.2).
   */
  requestingWorkload?: string;
}

declare const validatedBody: unique symbol;

/**
 * An envelope body that passed the envelope schema, deeply frozen. `mint` takes it without checking it
 * again: build one per verified identity (e.g. per access token), not per call. Its `session.trace_id`
 * is only what it was validated with: `mint` requires `options.traceId` for it.
 */
export type ValidatedEnvelopeBody = Readonly<EnvelopeBody> & { readonly [validatedBody]: true };

/** The bodies `validateEnvelopeBody` returned: only these skip the schema check in `mint`. */
const validatedBodies = new WeakSet<object>();

/** W3C Trace Context trace-id: 32 lowercase hex digits, not all zero (the schema's own rule). */
const TRACE_ID = /^[0-9a-f]{32}$/;
const ZERO_TRACE_ID = '0'.repeat(32);

/**
 * Validates an envelope body once, for many envelopes: `mint` takes the result without running the
 * schema again, each envelope with its own trace id (`MintOptions.traceId`). The body is what Baton
 * derived from verified claims; check it where it is derived (the boundary does so when it accepts a
 * token) so that minting on the hot path validates nothing it already validated. Throws
 * `ERR_ENVELOPE_CLAIMS_INVALID` as `mint` would.
 *
 * @example
 * const body = validateEnvelopeBody(envelopeBodyFrom(claims));      // once per token
 * const { envelope } = issuer.mint(body, { traceId: span.traceId }); // per call, no schema check
 */
export function validateEnvelopeBody(body: EnvelopeBody): ValidatedEnvelopeBody {
  if (validatedBodies.has(body)) return body as ValidatedEnvelopeBody;
  const validated = deepFreeze(parseBody(body)) as ValidatedEnvelopeBody;
  validatedBodies.add(validated);
  return validated;
}

function parseBody(body: EnvelopeBody) {
  const parsed = EnvelopeBodySchema.safeParse(body);
  if (!parsed.success) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_CLAIMS_INVALID',
      `envelope body is invalid: ${summarize(parsed.error)}`,
    );
  }
  return parsed.data;
}

export interface MintedEnvelope {
  /** The validated, deeply frozen envelope that tool code receives. */
  readonly envelope: Envelope;
  /**
   * Its compact JWS (`typ: txntoken+jwt`), for the `Txn-Token` header when it crosses a process.
   * Signed on first read, then the same string every time.
   */
  readonly token: string;
}

/**
 * Mints Execution Identity Envelopes. Construct one per boundary; `mint` is synchronous and cheap.
 *
 * @example
 * const ring = EnvelopeKeyRing.generate({ retentionSeconds: 900 });
 * const issuer = new EnvelopeIssuer({ issuer: 'https://orders.example/mcp', trustDomain: 'example', keys: ring });
 * const { envelope, token } = issuer.mint({ actor, agent, session, authorization, delegation });
 */
export class EnvelopeIssuer {
  readonly issuer: string;
  readonly trustDomain: string;
  readonly ttlSeconds: number;
  readonly #keys: EnvelopeKeys;
  readonly #workload: string;
  readonly #now: () => number;

  constructor(options: EnvelopeIssuerOptions) {
    if (typeof options?.issuer !== 'string' || options.issuer === '') {
      throw new TypeError('EnvelopeIssuer: issuer is required');
    }
    if (typeof options.trustDomain !== 'string' || options.trustDomain === '') {
      throw new TypeError('EnvelopeIssuer: trustDomain is required');
    }
    if (!options.keys)
      throw new TypeError('EnvelopeIssuer: keys (an EnvelopeKeyRing or SharedEnvelopeKeys) are required');
    const ttlSeconds = options.ttlSeconds ?? 300;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 3600) {
      throw new TypeError('EnvelopeIssuer: ttlSeconds must be an integer between 1 and 3600');
    }
    if (options.keys.retentionSeconds < ttlSeconds) {
      throw new TypeError(
        'EnvelopeIssuer: the key ring must retain rotated keys at least as long as envelopes live (retentionSeconds >= ttlSeconds)',
      );
    }
    this.issuer = options.issuer;
    this.trustDomain = options.trustDomain;
    this.ttlSeconds = ttlSeconds;
    this.#keys = options.keys;
    this.#workload = options.workload ?? options.issuer;
    this.#now = options.now ?? unixNow;
  }

  /** The public keys verifiers need: serve this as the issuer's JWKS. */
  jwks(): JsonWebKeySet {
    return this.#keys.jwks();
  }

  /** Whether the keys can sign (`EnvelopeKeys.healthy`): false while shared keys cannot be re-read. */
  get healthy(): boolean {
    return this.#keys.healthy !== false;
  }

  /**
   * Validates `body`, freezes it into an envelope and signs it. Throws `ERR_ENVELOPE_CLAIMS_INVALID`.
   * A body from `validateEnvelopeBody` was validated there and is not checked again.
   * `options.ttlSeconds` shortens this one envelope's lifetime (e.g. to what a policy or the token it
   * derives from allows); it never lengthens it beyond the issuer's `ttlSeconds`. `options.traceId`
   * files it under that trace.
   */
  mint(body: EnvelopeBody | ValidatedEnvelopeBody, options: MintOptions = {}): MintedEnvelope {
    const ttl = options?.ttlSeconds;
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) {
      throw new TypeError('EnvelopeIssuer.mint: ttlSeconds must be a positive integer');
    }
    const ttlSeconds = ttl === undefined ? this.ttlSeconds : Math.min(ttl, this.ttlSeconds);
    const traceId = options?.traceId;
    if (
      traceId !== undefined &&
      (typeof traceId !== 'string' || !TRACE_ID.test(traceId) || traceId === ZERO_TRACE_ID)
    ) {
      throw new EnvelopeError(
        'ERR_ENVELOPE_CLAIMS_INVALID',
        'envelope body is invalid: session.trace_id: not a W3C trace-id',
      );
    }
    const requestingWorkload = options?.requestingWorkload ?? this.#workload;
    if (typeof requestingWorkload !== 'string' || requestingWorkload === '') {
      throw new TypeError('EnvelopeIssuer.mint: requestingWorkload must be a non-empty string');
    }
    const validated = validatedBodies.has(body);
    if (validated && traceId === undefined) {
      // A body validated once serves many calls: each must name its own trace, never inherit one.
      throw new TypeError('EnvelopeIssuer.mint: a validated body is minted with options.traceId');
    }
    const data = validated
      ? body
      : parseBody(
          traceId === undefined ? body : { ...body, session: { ...body.session, trace_id: traceId } },
        );
    const issuedAt = this.#now();
    // Spelled out: a validated body's sections are frozen already and shared, never copied.
    const envelope = deepFreeze({
      id: randomUUID(),
      issuer: this.issuer,
      trust_domain: this.trustDomain,
      requesting_workload: requestingWorkload,
      issued_at: issuedAt,
      expires_at: issuedAt + ttlSeconds,
      actor: data.actor,
      agent: data.agent,
      session:
        traceId === undefined || data.session.trace_id === traceId
          ? data.session
          : { id: data.session.id, trace_id: traceId },
      authorization: data.authorization,
      delegation: data.delegation,
      ...(data.details === undefined ? {} : { details: data.details }),
      ...(data.request_context === undefined ? {} : { request_context: data.request_context }),
    }) as Envelope;
    // Signed on first use: most tool calls never send their envelope across a process boundary, and a
    // signature is the most expensive step of minting. The key is chosen now, so a rotation between
    // mint and first use cannot change which key signs.
    const { kid, alg, privateKey } = this.#keys.signingKey;
    let token: string | undefined;
    return Object.freeze({
      envelope,
      get token() {
        token ??= signCompact({ alg, typ: TXN_TOKEN_TYP, kid }, toWireClaims(envelope), privateKey);
        return token;
      },
    });
  }
}

/** The draft-10 claims of an envelope (the mapping in `txn-token.ts`); `verifyEnvelope` reads them back. */
function toWireClaims(envelope: Envelope): Record<string, unknown> {
  return {
    iss: envelope.issuer,
    aud: envelope.trust_domain,
    iat: envelope.issued_at,
    exp: envelope.expires_at,
    jti: envelope.id,
    txn: envelope.session.trace_id,
    sub: envelope.actor.sub,
    scope: envelope.authorization.scopes.join(' '),
    req_wl: envelope.requesting_workload,
    tctx: {
      ...envelope.delegation,
      ...(envelope.details === undefined ? {} : { details: envelope.details }),
    },
    ...(envelope.request_context === undefined ? {} : { rctx: envelope.request_context }),
    actor: envelope.actor,
    agent: envelope.agent,
    session: envelope.session,
    authorization: envelope.authorization,
  };
}

/** One line naming the failing paths, without echoing values (they may be attacker-supplied). */
export function summarize(error: {
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>;
}): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
