import type { TraceLink } from '@baton/audit';
import type { DelegationMode } from '@baton/core';
import type { SenderConstraint } from '@baton/resource-server';

/** What a downstream API may rely on about a call, whichever delegation mode carried it. */
export interface DownstreamIdentity {
  /** The person the call is for. */
  user: string;
  /** The person's tenant: the `tenant` claim, else `tid` (`@baton/core`'s `tenantOf`), else the envelope's. */
  tenant: string | null;
  /** The agent acting for the person (the OAuth client the person's token was issued to). */
  agent: string;
  /** Every party between the person and this API, the calling service first, the agent last. */
  chain: readonly string[];
  /** `on_behalf_of` (a token naming the chain in `act`), `restricted_user`, or `service_identity` (an envelope). */
  mode: DelegationMode;
  scopes: readonly string[];
  /**
   * The W3C trace this call belongs to: the signed envelope's (service identity), the caller's for a
   * token the broker exchanged along a delegation chain, otherwise a fresh one.
   */
  traceId: string;
  /** The calling hop's span, when its trace was joined. */
  parentSpanId?: string;
  /** Trace context the caller sent but was not trusted to choose (see `continueTrace`). */
  linkedTrace?: TraceLink;
  /**
   * This call's span id (16 hex): the verifier's OpenTelemetry span when tracing is on, and the
   * `span_id` of the call's audit event either way.
   */
  spanId: string;
  /**
   * How the calling service proved the token is its own, when the broker bound it (issue #14): a DPoP
   * key (`cnf.jkt`) or a TLS client certificate (`cnf["x5t#S256"]`, with its SPIFFE ID). Absent for a
   * bearer token.
   */
  senderConstraint?: NonNullable<SenderConstraint>;
}
