import { DELEGATION_MODES, type DelegationMode } from '@baton/core';
import { z } from 'zod';

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not an RFC 6749 scope-token');
const identifier = z.string().min(1).max(1024);
/** W3C Trace Context trace-id: 32 lowercase hex digits, not all zero. */
const traceId = z
  .string()
  .regex(/^[0-9a-f]{32}$/, 'not a W3C trace-id')
  .refine((value) => value !== '0'.repeat(32), 'the all-zero trace-id is invalid');
const epochSeconds = z.number().int().nonnegative();

/** The three ways a tool may reach a downstream service: `@baton/core`'s one union, re-exported here. */
export { DELEGATION_MODES, type DelegationMode };

/**
 * How the boundary established the actor's authority:
 * - `high`: a sender-constrained token (DPoP or mTLS `cnf`) verified at this boundary;
 * - `medium`: a bearer token verified at this boundary (JWT signature or active introspection);
 * - `low`: carried from a peer without re-verification (never minted by the MCP boundary).
 */
export const CONFIDENCE_LEVELS = ['high', 'medium', 'low'] as const;

/** How a sender-constrained token was bound to its caller (`authorization.binding`). */
export const SENDER_BINDINGS = ['dpop', 'mtls'] as const;

export const ActorSchema = z.strictObject({
  /** `user` for a person, `service` for a workload acting as itself (client credentials). */
  type: z.enum(['user', 'service']),
  sub: identifier,
  tenant: identifier.nullable(),
});

export const AgentSchema = z.strictObject({
  type: z.enum(['ai_agent', 'application']),
  id: identifier,
  client_id: identifier,
});

export const SessionSchema = z.strictObject({
  id: identifier,
  trace_id: traceId,
});

export const AuthorizationSchema = z.strictObject({
  scopes: z
    .array(scopeToken)
    .max(256)
    .refine((scopes) => new Set(scopes).size === scopes.length, 'scopes must be unique'),
  confidence: z.enum(CONFIDENCE_LEVELS),
  /**
   * How the caller's token was bound to it, when it was sender-constrained and the binding verified
   * at the minting boundary: `dpop` (RFC 9449 proof of possession, `cnf.jkt`) or `mtls` (RFC 8705
   * certificate-bound, `cnf["x5t#S256"]`). Absent for a bearer token, so bearer envelopes are unchanged.
   */
  binding: z.enum(SENDER_BINDINGS).optional(),
});

export const DelegationSchema = z.strictObject({
  mode: z.enum(DELEGATION_MODES),
  allowed: z
    .array(identifier)
    .max(256)
    .refine((allowed) => new Set(allowed).size === allowed.length, 'allowed services must be unique'),
  /**
   * The services that acted between the agent and this hop, most recent first (RFC 8693 `act` order,
   * agent excluded): empty when the agent called this server directly.
   */
  chain: z.array(identifier).max(32).default([]),
});

// Transaction Tokens (draft-ietf-oauth-transaction-tokens-10 §7.2): what the token service asserts
// about the request (`rctx`) and the transaction's own parameters (`tctx`). Bounded, because they ride
// in a header on every call of the chain.

/** The largest `details` or `request_context`, as serialized JSON. */
export const MAX_CONTEXT_LENGTH = 2048;
const bounded = <T extends z.ZodType>(schema: T) =>
  schema.refine(
    (value) => JSON.stringify(value).length <= MAX_CONTEXT_LENGTH,
    `larger than ${MAX_CONTEXT_LENGTH} characters of JSON`,
  );

/**
 * The environment of the request that started the transaction (`rctx`, draft-10 §7.2.2): the
 * originating IP address, how the person authenticated (an RFC 8176 `amr` value), the transport. Only
 * these members: the token service decides what it asserts, and a verifier reads nothing it cannot name.
 */
export const RequestContextSchema = bounded(
  z.strictObject({
    req_ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    authn: z
      .string()
      .regex(/^[\x21-\x7E]{1,64}$/, 'not an RFC 8176 amr value')
      .optional(),
    transport: z.enum(['https', 'http', 'mtls', 'stdio']).optional(),
  }),
);

/**
 * The transaction's own parameters the token service asserted (`tctx.details`, from the request's
 * `request_details`, draft-10 §7.2.3): immutable through the call chain, e.g. `{ "action": "BUY" }`.
 */
export const DetailsSchema = bounded(z.record(z.string().min(1).max(64), z.json()));

/** The five named sections that say who, which agent, where, with what authority, and how far. */
export const EnvelopeBodySchema = z.strictObject({
  actor: ActorSchema,
  agent: AgentSchema,
  session: SessionSchema,
  authorization: AuthorizationSchema,
  delegation: DelegationSchema,
  /** `tctx.details`: the transaction's parameters, when the token service asserted any. */
  details: DetailsSchema.optional(),
  /** `rctx`: the requester's environment, when the token service asserted any. */
  request_context: RequestContextSchema.optional(),
});

export const EnvelopeSchema = z
  .strictObject({
    /** Unique id of this envelope (`jti` on the wire). */
    id: identifier,
    /** Who minted it (`iss`): the MCP server's boundary or a token service. */
    issuer: identifier,
    /** The trust domain it is valid in (`aud` on the wire, as in Transaction Tokens). */
    trust_domain: identifier,
    /** The workload that asked for it (`req_wl`): the MCP server's boundary, or the broker's client. */
    requesting_workload: identifier,
    issued_at: epochSeconds,
    expires_at: epochSeconds,
    ...EnvelopeBodySchema.shape,
  })
  .refine((envelope) => envelope.expires_at > envelope.issued_at, {
    message: 'expires_at must be after issued_at',
    path: ['expires_at'],
  });

/** The Execution Identity Envelope as tools see it: validated and deeply frozen. */
export type Envelope = DeepReadonly<z.infer<typeof EnvelopeSchema>>;
/** The caller-supplied part of an envelope; identifiers and times are added when it is minted. */
export type EnvelopeBody = z.input<typeof EnvelopeBodySchema>;

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
