import { continueTrace, type TraceContinuation, traceIdFrom } from '@baton/audit';
import { type Identity, identityFromClaims } from '@baton/core';
import {
  EnvelopeError,
  type EnvelopeKeyResolver,
  remoteJwksResolver,
  TXN_TOKEN_HEADER,
  verifyEnvelope,
} from '@baton/envelope';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  BearerError,
  type ClientCertificate,
  includesResource,
  insufficientScope,
  invalidToken,
  jwtAccessTokenVerifier,
  type RevocationCheck,
  requestHtu,
  revocationRefusal,
  type SenderConstraint,
  type SenderConstraintOptions,
  SenderConstraints,
} from '@baton/resource-server';
import type { DownstreamIdentity } from './identity.ts';
import { recordRefusedCall, recordVerifiedCall } from './telemetry.ts';

/** A service allowed to call this API as itself, carrying the envelope it minted. */
export interface TrustedCaller {
  /** Its client id at the broker (the `client_id`/`sub` of its client-credentials token). */
  clientId: string;
  /** The issuer of its envelopes (its MCP resource URI), and where it publishes their keys. */
  envelopeIssuer: string;
  envelopeJwksUri: string;
  /**
   * How long a fetched envelope JWKS is used before it is fetched again, in seconds. Default 600. An
   * unknown `kid` refetches sooner, but at most once per 30 s: an instance fleet rotating its keys must
   * publish a new key at least this long before signing with it (`SharedEnvelopeKeys`'
   * `propagationSeconds`).
   */
  envelopeJwksCacheMaxAgeSeconds?: number;
}

export interface DownstreamVerifierOptions {
  /** This API's resource URI: every access token must be for it. Required. */
  audience: string;
  /**
   * The token broker whose tokens this API accepts. Required. `fetch`: how its JWKS is fetched (e.g.
   * over this API's workload certificate, trusting the internal CA). Default: the global `fetch`.
   */
  broker: { issuer: string; jwksUri?: string; fetch?: typeof fetch };
  /** Service-identity calls: the trust domain of envelopes, and which services may call as themselves. */
  serviceIdentity?: { trustDomain: string; callers: readonly TrustedCaller[] };
  /**
   * The revocations this API receives (`@baton/shared-signals`' `RevocationFeed`, fed by the broker's
   * Shared Signals stream): checked on every call, after the token is verified. A revoked token,
   * person, session or client is 401 `invalid_token`; a stale feed fails closed (503) or falls back to
   * introspection, as the feed is configured. For a service-identity call the envelope's person,
   * session and agent are checked as well. Refusals are audited (with `audit` on the handler).
   */
  revocations?: RevocationCheck;
  /**
   * Tokens the broker binds to the calling service (issue #14): `dpop` checks `cnf.jkt` tokens against
   * the request's `DPoP` proof (RFC 9449; `replay` shared by every instance of this API, e.g.
   * `RedisDpopReplayStore`), `mtls: {}` checks `cnf["x5t#S256"]` tokens against the TLS client
   * certificate the adapter passes (RFC 8705 §3). Default: neither, and a token with `cnf` is refused.
   */
  senderConstraint?: SenderConstraintOptions;
  /**
   * The origin callers reach this API at, for the `htu` of DPoP proofs (`https://orders.internal`).
   * Default: the audience's origin. Never the `Host` header: behind a proxy it is not the caller's URL.
   */
  publicOrigin?: string;
}

/** What a call carried besides its headers, for sender-constrained tokens. */
export interface DownstreamRequest {
  /** The request method (a DPoP proof's `htm`). */
  method: string;
  /** The request path without its query (with `publicOrigin`, a DPoP proof's `htu`). */
  path: string;
  /** The TLS client certificate the connection's handshake verified, if any. Never from a header. */
  clientCertificate?: ClientCertificate | undefined;
}

/**
 * The identity a refusal after the token verified was for (a revocation, a failed DPoP proof or
 * certificate binding): `serveVerifiedCall` audits such refusals.
 * Keyed by the error object, so it cannot outlive it or be forged from outside the package.
 * @internal
 */
export const revokedCallIdentity = new WeakMap<object, Omit<DownstreamIdentity, 'spanId'>>();

/** A configured verifier: `verify(headers, requiredScopes)`. */
export interface DownstreamVerifier {
  readonly audience: string;
  /**
   * `request` is needed for sender-constrained tokens (its method and path for a DPoP proof, its
   * client certificate for a certificate-bound token); a bound token verified without it is refused.
   */
  verify(
    headers: Headers,
    requiredScopes?: readonly string[],
    request?: DownstreamRequest,
  ): Promise<DownstreamIdentity>;
  /** What a refusal's challenge needs (the `DPoP` challenge's `algs`, when DPoP is on). */
  readonly challenge?: { dpop?: { algorithms: readonly string[]; bearer: boolean } };
}

/**
 * Verifies calls to a downstream API. Two shapes are accepted:
 * - a broker-issued token for this API on a person's behalf (`on_behalf_of`, with `act`; or
 *   `restricted_user`, without): identity from the token;
 * - a service's own client-credentials token (`service_identity`) plus a `Txn-Token` envelope the
 *   same service minted: identity from the envelope, which must be from this trust domain, unexpired,
 *   and name this API in `delegation.allowed` (an envelope replayed at another API is refused).
 * Throws `BearerError` (401/403 with the RFC 6750 error) on any refusal.
 *
 * @example
 * const verifier = downstreamVerifier({ audience: 'https://orders.example/api', broker: { issuer } });
 * const identity = await verifier.verify(request.headers, ['orders:read']);
 */
export function downstreamVerifier(options: DownstreamVerifierOptions): DownstreamVerifier {
  if (!options?.audience) throw new TypeError('downstreamVerifier: audience is required');
  if (!options.broker?.issuer) throw new TypeError('downstreamVerifier: broker.issuer is required');
  const tokens: AccessTokenVerifier = jwtAccessTokenVerifier({
    issuer: options.broker.issuer,
    audience: options.audience,
    ...(options.broker.jwksUri ? { jwksUri: options.broker.jwksUri } : {}),
    ...(options.broker.fetch ? { fetch: options.broker.fetch } : {}),
  });
  // Sender-constrained tokens (issue #14): validated here, so a missing replay store fails at start.
  const constraints = new SenderConstraints(options.senderConstraint ?? {});
  let publicOrigin: string | undefined;
  try {
    publicOrigin = new URL(options.publicOrigin ?? options.audience).origin;
  } catch {
    publicOrigin = undefined;
  }
  if (constraints.dpop && (publicOrigin === undefined || publicOrigin === 'null'))
    throw new TypeError('downstreamVerifier: DPoP needs publicOrigin (or an audience that is a URL)');
  const callers = new Map<string, TrustedCaller & { keys: EnvelopeKeyResolver }>();
  for (const caller of options.serviceIdentity?.callers ?? []) {
    const maxAge = caller.envelopeJwksCacheMaxAgeSeconds;
    if (maxAge !== undefined && (!Number.isFinite(maxAge) || maxAge <= 0)) {
      throw new TypeError('downstreamVerifier: envelopeJwksCacheMaxAgeSeconds must be a positive number');
    }
    const keys = remoteJwksResolver(
      new URL(caller.envelopeJwksUri),
      maxAge === undefined ? {} : { cacheMaxAgeMs: maxAge * 1000 },
    );
    callers.set(caller.clientId, { ...caller, keys });
  }

  const { revocations } = options;
  const decide = async (
    headers: Headers,
    requiredScopes: readonly string[],
    request: DownstreamRequest | undefined,
  ) => {
    const presented = constraints.presented(headers);
    const token = presented.token;
    const claims = await tokens.verify(token);
    let identity: Omit<DownstreamIdentity, 'spanId'>;
    /** For a service-identity call: the person, session and agent the envelope carries, as claims. */
    let envelopeClaims: Record<string, unknown> | undefined;
    if (claims.subject === claims.clientId) {
      const caller = callers.get(claims.clientId);
      if (!caller || !options.serviceIdentity) {
        throw invalidToken('claims_invalid', 'this service is not trusted to call as itself');
      }
      const envelopeToken = headers.get(TXN_TOKEN_HEADER);
      if (!envelopeToken)
        throw invalidToken('claims_invalid', 'a service-identity call must carry its Txn-Token');
      let envelope: Awaited<ReturnType<typeof verifyEnvelope>>;
      try {
        envelope = await verifyEnvelope(envelopeToken, {
          issuer: caller.envelopeIssuer,
          trustDomain: options.serviceIdentity.trustDomain,
          keys: caller.keys,
        });
      } catch (error) {
        if (error instanceof EnvelopeError) {
          throw invalidToken('claims_invalid', `the Txn-Token envelope is refused (${error.code})`, error);
        }
        throw error;
      }
      if (!includesResource(envelope.delegation.allowed, options.audience)) {
        throw invalidToken('audience_invalid', 'the envelope does not allow calls to this API');
      }
      envelopeClaims = {
        sub: envelope.actor.sub,
        iat: envelope.issued_at,
        sid: envelope.session.id,
        client_id: envelope.agent.id,
        act: actChainOf(envelope.delegation.chain),
      };
      identity = {
        user: envelope.actor.sub,
        tenant: envelope.actor.tenant,
        agent: envelope.agent.id,
        chain: [claims.clientId, ...envelope.delegation.chain, envelope.agent.id],
        mode: 'service_identity',
        scopes: envelope.authorization.scopes,
        // The envelope's signed trace id; the header's span is the parent only within that trace.
        ...traceFields(envelopeTrace(headers.get('traceparent'), envelope.session.trace_id)),
      };
    } else {
      // The one derivation every hop uses (`@baton/core`): tenant, agent, chain and mode by its rules.
      let derived: Identity;
      try {
        derived = identityFromClaims(claims);
      } catch {
        throw invalidToken('claims_invalid', 'the access token carries a malformed act claim');
      }
      const { mode, chain } = derived.delegation;
      identity = {
        user: derived.actor.sub,
        tenant: derived.actor.tenant,
        agent: derived.agent,
        chain,
        mode,
        scopes: derived.scopes,
        // Joined only for a token the broker exchanged along a chain (an upstream Baton hop); a
        // restricted user token carries no chain, so its caller's trace context is only a link.
        ...traceFields(continueTrace(headers.get('traceparent'), mode === 'on_behalf_of')),
      };
    }
    // Every call: a proof is for one request, a certificate binding for the connection it came on.
    const binding = await checkBinding(constraints, claims, presented, request, publicOrigin, identity);
    if (binding) identity = { ...identity, senderConstraint: binding };
    if (revocations) await refuseRevoked(revocations, claims, identity, envelopeClaims, token);
    const missing = requiredScopes.filter((scope) => !identity.scopes.includes(scope));
    if (missing.length > 0) throw insufficientScope(requiredScopes);
    return identity;
  };

  return {
    audience: options.audience,
    challenge: constraints.challenge(),
    async verify(headers, requiredScopes = [], request = undefined) {
      const startTime = Date.now();
      let identity: Omit<DownstreamIdentity, 'spanId'>;
      try {
        identity = await decide(headers, requiredScopes, request);
      } catch (error) {
        recordRefusedCall(options.audience, headers.get('traceparent'), error, startTime, headers);
        throw error;
      }
      return frozenIdentity(recordVerifiedCall(options.audience, identity, startTime, headers));
    },
  };
}

/**
 * The verified token's binding to its sender (`SenderConstraints`), checked against this request;
 * a refusal remembers whom it refused, for the audit (`serveVerifiedCall`).
 */
async function checkBinding(
  constraints: SenderConstraints,
  claims: AccessTokenClaims,
  presented: ReturnType<SenderConstraints['presented']>,
  request: DownstreamRequest | undefined,
  publicOrigin: string | undefined,
  identity: Omit<DownstreamIdentity, 'spanId'>,
): Promise<SenderConstraint> {
  try {
    if (claims.claims.cnf !== undefined && request === undefined)
      throw invalidToken('cnf_unsupported', 'a sender-constrained token needs the request it came with');
    return await constraints.check(claims.claims, presented, {
      method: request?.method ?? 'GET',
      // Only read for a DPoP-bound token, and then `publicOrigin` is set (checked at construction).
      htu: requestHtu(publicOrigin ?? 'http://unused.invalid', request?.path ?? '/'),
      clientCertificate: request?.clientCertificate,
    });
  } catch (error) {
    // A nonce challenge is the protocol's first round trip, not a refusal of anything proven.
    if (error instanceof BearerError && error.error !== 'use_dpop_nonce')
      revokedCallIdentity.set(error, identity);
    throw error;
  }
}

/** Throws the refusal (remembering whom it refused, for the audit) when a revocation covers the call. */
async function refuseRevoked(
  revocations: RevocationCheck,
  claims: AccessTokenClaims,
  identity: Omit<DownstreamIdentity, 'spanId'>,
  envelopeClaims: Record<string, unknown> | undefined,
  token: string,
): Promise<void> {
  let refused = await revocationRefusal(revocations, claims, token);
  if (!refused && envelopeClaims) {
    // The envelope's person cannot be introspected (the token is the service's own): with a stale feed
    // its check fails closed whatever the fallback.
    const listOnly: RevocationCheck = { check: (entry) => revocations.check(entry) };
    refused = await revocationRefusal(listOnly, { ...claims, claims: envelopeClaims }, token);
  }
  if (!refused) return;
  revokedCallIdentity.set(refused, identity);
  throw refused;
}

/** The services of an envelope's chain (most recent first) as a nested RFC 8693 `act`. */
function actChainOf(chain: readonly string[]): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (let index = chain.length - 1; index >= 0; index--)
    act = { sub: chain[index], ...(act ? { act } : {}) };
  return act;
}

function traceFields(
  trace: TraceContinuation,
): Pick<DownstreamIdentity, 'traceId' | 'parentSpanId' | 'linkedTrace'> {
  return {
    traceId: trace.traceId,
    ...(trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {}),
    ...(trace.link ? { linkedTrace: trace.link } : {}),
  };
}

/**
 * The trace of a service-identity call: always the envelope's (signed); the caller's `traceparent`
 * names the parent span only when it is in that trace, otherwise it is kept as a link.
 */
function envelopeTrace(traceparent: string | null, envelopeTraceId: string): TraceContinuation {
  const inEnvelopeTrace = traceIdFrom(traceparent) === envelopeTraceId;
  const trace = continueTrace(traceparent, inEnvelopeTrace);
  return inEnvelopeTrace ? trace : { ...trace, traceId: envelopeTraceId };
}

/**
 * Frozen all the way down: the handler (and any middleware after it) holds this object while the
 * call's audit record is still to be written from it, so nothing in it may change.
 */
function frozenIdentity(identity: DownstreamIdentity): DownstreamIdentity {
  Object.freeze(identity.chain);
  Object.freeze(identity.scopes);
  if (identity.linkedTrace) Object.freeze(identity.linkedTrace);
  return Object.freeze(identity);
}
