import type { AuditSink } from '@baton/audit';
import type { Identity } from '@baton/core';
import type { EnvelopeIssuer, ValidatedEnvelopeBody } from '@baton/envelope';
import type { AccessTokenClaims, CallerKind } from '@baton/resource-server';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { CheckedDlpPolicy } from './dlp/policy.ts';
import type { DownstreamSettings } from './downstream/client.ts';
import type { DelegationPolicy } from './identity-from-claims.ts';
import type { ToolGateSettings } from './policy/gate.ts';
import type { ScopeImplications } from './scopes.ts';

/**
 * What the SDK sees in place of the access token. The SDK's `AuthInfo.token` is a required string,
 * and any code holding `ctx.http.authInfo` could read it; the boundary never puts the real token there.
 */
export const TOKEN_WITHHELD = '[withheld by the Baton identity boundary]';

/** The key under `AuthInfo.extra` where the boundary leaves its per-request context. */
const CONTEXT_KEY = 'baton.boundary';

/** Per-boundary settings a tool wrapper needs. Held by the boundary instance, never by a request. */
export interface BoundarySettings {
  component: string;
  envelopes: EnvelopeIssuer;
  delegation: DelegationPolicy;
  audit: AuditSink;
  logger: Logger;
  downstream: DownstreamSettings | undefined;
  /** The boundary's scope hierarchy (`scopeImplications`): every scope check goes through it. */
  scopes: ScopeImplications;
  /** Declared per-tool policy and human approval (issue #12), when configured. */
  toolGate?: ToolGateSettings | undefined;
  /** DLP (issue #12 item 5): the boundary's default policy for tool results, if any. */
  dlp?: CheckedDlpPolicy | undefined;
}

/**
 * What the boundary hands its own tool wrappers, and nothing else: for a request context this
 * boundary instance created, the boundary's settings and the caller's sealed token. It is created in
 * the boundary's constructor and passed to wrappers the boundary registers; no module exports one, so
 * code that imports Baton's files (by package or by path) cannot obtain it.
 */
export interface BoundaryAccess {
  open(context: BoundaryRequestContext): OpenedRequest | undefined;
}

/**
 * One request as the boundary sealed it at authentication. The wrappers take identity from here,
 * never from the context object in `AuthInfo.extra` (which any SDK code can hold on to).
 */
export interface OpenedRequest {
  settings: BoundarySettings;
  /** The caller's original token: only ever the broker's RFC 8693 subject token. */
  subjectToken: string;
  /** The validated claims, deeply frozen. */
  claims: AccessTokenClaims;
  /** The identity derived from them, once, at authentication (frozen). */
  identity: Identity;
  /** The `traceparent` header as sent. */
  traceparent: string | undefined;
  /** Whether the caller may continue its own trace (see `BoundaryRequestContext.traceTrusted`). */
  traceTrusted: boolean;
  /**
   * Whether the request carried any trace context a registered propagator reads (`traceparent`, `b3`,
   * ...): then the host's active span may be in the caller's trace, and a hop never joins it.
   */
  sentTraceContext: boolean;
  /** The envelope body derived from `claims` and validated when the token was accepted. */
  envelopeBody: ValidatedEnvelopeBody;
}

/**
 * What the boundary learned about one HTTP request: validated claims (never the token), whether a
 * person or a machine is calling, and the trace context the caller sent. It rides in `AuthInfo.extra`
 * where any SDK code can read it, so it carries nothing secret and nothing that acts, and it is deeply
 * frozen. It is only a handle: the boundary's wrappers open it for the request in flight, and read
 * identity from what the boundary sealed, not from this object. A context a plain tool builds itself,
 * or keeps from an earlier request, opens nothing.
 */
export class BoundaryRequestContext {
  readonly claims: AccessTokenClaims;
  /** `user` when a person stands behind the token, `service` for a machine's own token. */
  readonly callerKind: CallerKind;
  /** The `traceparent` header as sent (not trusted by itself: see `traceTrusted`). */
  readonly traceparent: string | undefined;
  /**
   * Whether the caller may continue its own trace: an authenticated upstream Baton hop (a token that
   * carries a delegation chain) or a client the operator listed. Anyone else starts a fresh trace.
   */
  readonly traceTrusted: boolean;

  constructor(init: {
    claims: AccessTokenClaims;
    callerKind: CallerKind;
    traceparent: string | null;
    traceTrusted: boolean;
  }) {
    this.claims = init.claims;
    this.callerKind = init.callerKind;
    this.traceparent = init.traceparent ?? undefined;
    this.traceTrusted = init.traceTrusted;
    Object.freeze(this);
  }

  /** The `AuthInfo` handed to the SDK: scopes and expiry for its checks, the token withheld. */
  toAuthInfo(resource: URL, resourceMetadataUrl: string): AuthInfo {
    return {
      token: TOKEN_WITHHELD,
      clientId: this.claims.clientId,
      scopes: [...this.claims.scopes],
      expiresAt: this.claims.expiresAt,
      resource,
      resourceMetadataUrl,
      extra: { [CONTEXT_KEY]: this },
    };
  }
}

/**
 * The request `access`'s boundary sealed for the request in flight, from the `AuthInfo` an SDK handler
 * got; `undefined` when there is none (mounted without the boundary, a forged or stale context).
 */
export function openedFrom(
  access: BoundaryAccess,
  authInfo: AuthInfo | undefined,
): OpenedRequest | undefined {
  const handle = boundaryContextOf(authInfo);
  return handle ? access.open(handle) : undefined;
}

/** The request context in an `AuthInfo`, if there is one. Whether a boundary made it is `BoundaryAccess.open`'s call. */
export function boundaryContextOf(authInfo: AuthInfo | undefined): BoundaryRequestContext | undefined {
  const candidate = authInfo?.extra?.[CONTEXT_KEY];
  return candidate instanceof BoundaryRequestContext ? candidate : undefined;
}
