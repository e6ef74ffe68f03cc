import { type AuditSink, parentSpanIdFrom, traceIdFrom } from '@baton/audit';
import type { EnvelopeIssuer } from '@baton/envelope';
import type { AccessTokenClaims } from '@baton/resource-server';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { DownstreamSettings } from './downstream/client.ts';
import type { DelegationPolicy } from './identity-from-claims.ts';

/**
 * What the SDK sees in place of the access token. The SDK's `AuthInfo.token` is a required string,
 * and any code holding `ctx.http.authInfo` could read it; the boundary never puts the real token there.
 */
export const TOKEN_WITHHELD = '[withheld by the Baton identity boundary]';

/** The key under `AuthInfo.extra` where the boundary leaves its per-request context. */
const CONTEXT_KEY = 'baton.boundary';

/** Per-boundary settings a tool wrapper needs. */
export interface BoundarySettings {
  component: string;
  envelopes: EnvelopeIssuer;
  delegation: DelegationPolicy;
  audit: AuditSink;
  logger: Logger;
  downstream: DownstreamSettings | undefined;
}

/**
 * The caller's original token, sealed per request: module-private, read only by the downstream
 * client to prove to the broker that the person really authenticated (RFC 8693 subject token).
 * Tool code receives neither the request context nor this map.
 */
const sealedTokens = new WeakMap<BoundaryRequestContext, string>();

/**
 * The boundary's settings (envelope signer, broker credentials, audit sink), kept off the context
 * object itself: the context rides in `AuthInfo.extra`, where any plain SDK tool can reach it, and
 * a tool must not be able to mint envelopes or borrow the broker's client assertion.
 */
const boundarySettings = new WeakMap<BoundaryRequestContext, BoundarySettings>();

/** @internal For the tool wrapper only; not exported from the package. */
export function settingsOf(context: BoundaryRequestContext): BoundarySettings {
  const settings = boundarySettings.get(context);
  if (settings === undefined) throw new TypeError('no boundary settings for this request');
  return settings;
}

/** @internal For the downstream client only; not exported from the package. */
export function sealedSubjectToken(context: BoundaryRequestContext): string {
  const token = sealedTokens.get(context);
  if (token === undefined) throw new TypeError('no sealed subject token for this request');
  return token;
}

/**
 * What the boundary learned about one HTTP request: validated claims (never the token) and the
 * trace it belongs to. Only the boundary constructs it, and a tool wrapper refuses anything else.
 */
export class BoundaryRequestContext {
  readonly claims: AccessTokenClaims;
  readonly httpTraceId: string | undefined;
  /** The calling hop's span id, from the HTTP `traceparent`. */
  readonly httpParentSpanId: string | undefined;

  constructor(
    claims: AccessTokenClaims,
    traceparent: string | null,
    settings: BoundarySettings,
    subjectToken: string,
  ) {
    sealedTokens.set(this, subjectToken);
    boundarySettings.set(this, settings);
    this.claims = claims;
    this.httpTraceId = traceIdFrom(traceparent);
    this.httpParentSpanId = parentSpanIdFrom(traceparent);
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

/** The boundary's context for a request, if (and only if) the boundary authenticated it. */
export function boundaryContextOf(authInfo: AuthInfo | undefined): BoundaryRequestContext | undefined {
  const candidate = authInfo?.extra?.[CONTEXT_KEY];
  return candidate instanceof BoundaryRequestContext ? candidate : undefined;
}
