import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditSink } from '@baton/audit';
import { auditEventOf, carriesTraceContext, continueTrace, createLogger } from '@baton/audit';
import { type Identity, identityFromClaims } from '@baton/core';
import { type EnvelopeIssuer, type ValidatedEnvelopeBody, validateEnvelopeBody } from '@baton/envelope';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  BearerError,
  bearerErrorResponse,
  type CallerKindRule,
  type ChallengeOptions,
  type ClientCertificate,
  challengeDescription,
  insufficientScope,
  invalidToken,
  isLoopbackHostname,
  malformedRequestResponse,
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  protectedResourceMetadataDocumentResponse,
  protectedResourceMetadataUrl,
  type RevocationCheck,
  requestAddress,
  requestHtu,
  revocationRefusal,
  type SenderConstraintOptions,
  SenderConstraints,
  VerifiedTokenCache,
} from '@baton/resource-server';
import { followRevocations, RevocationList } from '@baton/shared-signals';
import {
  type AuthInfo,
  localhostAllowedHostnames,
  type McpHandlerRequestOptions,
  originValidationResponse,
  type StandardSchemaWithJSON,
  validateHostHeader,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
// Declared per-tool policy and human approval (issue #12).
import { type ApprovalOptions, Approvals } from './approval/approvals.ts';
import { ApprovalPages } from './approval/page.ts';
// DLP and rate limits (issue #12 items 5 and 6).
import { checkedDlpPolicy, type DlpPolicy } from './dlp/policy.ts';
import type { DownstreamSettings } from './downstream/client.ts';
import { type DownstreamOptions, indexServices } from './downstream/services.ts';
import { TokenCache } from './downstream/token-cache.ts';
import { frozenClaims } from './frozen-claims.ts';
import {
  type DelegationPolicy,
  delegationPolicyFormsEnvelope,
  envelopeBodyFromIdentity,
} from './identity-from-claims.ts';
import {
  type IdentityPromptConfig,
  type IdentityPromptHandler,
  type PromptHost,
  registerIdentityPromptWith,
} from './identity-prompt.ts';
import {
  type IdentityResourceConfig,
  type IdentityResourceHandler,
  type ResourceHost,
  registerIdentityResourceWith,
} from './identity-resource.ts';
import {
  type IdentityToolConfig,
  type IdentityToolHandler,
  type InputOf,
  registerIdentityToolWith,
  type ToolHost,
} from './identity-tool.ts';
import { filterListsByIdentity, type ListFiltering } from './list-filter.ts';
import type { BoundaryOperations } from './operations.ts';
import { ToolPolicy, type ToolPolicyOptions } from './policy/tool-policy.ts';
import { rateLimitedResponse } from './rate-limit/response.ts';
import { type BoundaryRateLimits, ToolRateLimits } from './rate-limit/tool-limits.ts';
import { oversizedBatchResponse, readJsonRpcBody, toolCallsIn } from './request-body.ts';
import {
  type BoundaryAccess,
  BoundaryRequestContext,
  type BoundarySettings,
  type OpenedRequest,
} from './request-context.ts';
import { declaredScopes, ScopeImplications, type ScopeImplicationsOption, scopesCover } from './scopes.ts';
import { recordSurfaceStepUpDenial, SURFACE_ACTION, type SurfaceItem } from './surface-audit.ts';
import { type DeclaredItem, SurfaceRegistry, type UriTemplateLike } from './surface-registry.ts';
import { surfaceCallsIn } from './surface-requests.ts';
import { recordRefusalSpan } from './telemetry.ts';

export interface IdentityBoundaryOptions {
  /** Opt-in health, readiness and metrics (`new BoundaryOperations()`); none by default. */
  operations?: BoundaryOperations;
  /** This MCP server's canonical resource URI (RFC 8707), e.g. `https://orders.example/mcp`. Required. */
  resource: string;
  /** Authorization servers clients should use (RFC 9728 `authorization_servers`). Required. */
  authorizationServers: readonly string[];
  /** Validates incoming access tokens; its audience must be `resource`. Required. */
  tokenVerifier: AccessTokenVerifier;
  /** Mints the envelopes tools receive. Required. */
  envelopes: EnvelopeIssuer;
  /** Where tool-invocation audit events go. Required: a boundary without audit is a misconfiguration. */
  audit: AuditSink;
  /**
   * The delegation mode recorded in envelopes, and the audiences of the downstream services they allow.
   * Default: `service_identity`, allowing exactly the services in `downstream`.
   */
  delegation?: Partial<DelegationPolicy>;
  /** Downstream services tools may call, each with its mode, and the broker that issues their tokens. */
  downstream?: DownstreamOptions;
  /** Every scope this server may ask for, advertised in RFC 9728 metadata (`scopes_supported`). */
  scopesSupported?: readonly string[];
  /**
   * The scopes a 401 challenge asks for: what basic access needs (MCP scope selection strategy). Tools
   * that need more answer a 403 step-up challenge naming their scopes. Default: `scopesSupported`,
   * because the SDK clients register with the first challenge's scope and an identity provider that
   * binds registered scopes (oidc-provider does) would refuse a later step-up; set it to the basic
   * scope (e.g. `['orders:read']`) when clients are pre-registered or the IdP does not bind. An empty
   * list leaves `scope` out of the challenge, so clients fall back to `scopes_supported`.
   */
  challengeScopes?: readonly string[];
  /**
   * The scope hierarchy (MCP 2026-07-28 requires servers to account for one): each broader scope and
   * the narrower scopes it implies, transitively, e.g. `{ 'orders': ['orders:read', 'orders:write'],
   * 'orders:write': ['orders:read'] }`. Applied wherever the boundary decides whether a token's scopes
   * cover what an item declares: the 403 step-up challenge before dispatch, the wrappers' own check and
   * list filtering. A step-up challenge names the least scopes that satisfy the call (the declared
   * ones, less any another declared scope implies), never a broader one. The envelope's
   * `authorization.scopes` records the token's scopes as granted, not expanded: it is evidence of what
   * the authorization server issued, and each downstream service reads it under its own hierarchy.
   * Declared Cedar tool policy (`policy`) likewise sees the granted scopes. Validated at construction
   * (scope tokens; a cycle is a `TypeError`). Default: none, scopes match exactly.
   */
  scopeImplications?: ScopeImplicationsOption;
  /**
   * Largest POST body the boundary reads (it reads `tools/call` bodies to answer a missing scope with a
   * 403 step-up challenge before dispatch); a larger one is answered 413. Default 4 MiB, the SDK's.
   */
  maxRequestBodySize?: number;
  resourceName?: string;
  /**
   * Where the boundary publishes its envelope-signing JWKS, as a path on the resource's origin.
   * Default `/.well-known/jwks.json`. Downstream verifiers fetch it to check `Txn-Token` envelopes.
   */
  envelopeJwksPath?: string;
  /**
   * Hostnames accepted in `Host` and `Origin` (DNS-rebinding defence). Default: the resource's
   * hostname, or the loopback names when the resource is on loopback.
   */
  allowedHostnames?: readonly string[];
  /**
   * Tells a person's token from a machine's own (client credentials). Default `defaultCallerKind`:
   * `sub` equal to `client_id` is a machine (RFC 9068 §2.2). Asked once per verified token (the answer
   * is remembered with the token's acceptance), not per request: it must depend on the claims alone.
   */
  callerKind?: CallerKindRule;
  /**
   * Whether machine callers (no person behind the token) are let in. Default `'refuse'`: a 401
   * `invalid_token`, because a service's own token must not act as a person. With `'accept'` they get
   * envelopes with `actor.type: "service"`, and only tools that list `service` in `actorTypes` run for them.
   */
  serviceCallers?: 'refuse' | 'accept';
  /**
   * Client ids whose `traceparent` the boundary joins although their token carries no delegation chain
   * (e.g. an operator's gateway). A token exchanged by the broker (an upstream Baton hop) is trusted
   * without being listed; every other caller gets a fresh trace, with its context kept as a link.
   */
  trustedTraceCallers?: readonly string[];
  /**
   * The revocations this server receives (`@baton/shared-signals`' `RevocationFeed`, fed by the
   * broker's Shared Signals stream, or a `RevocationList` fed in process): checked on every request,
   * after the token is verified (a cached verification included). A revoked token, person, session or
   * client is 401 `invalid_token`, audited; a stale feed fails closed (503) or falls back to
   * introspection, as the feed is configured. The downstream token caches follow the same list: what a
   * revocation covers is dropped from memory and from `downstream.tokenStore` as it arrives (an
   * exchanged token is covered by its caller's person, session or `jti`, and by any client of its
   * chain: the agent, each actor, this server; this server's own tokens by this server's client).
   */
  revocations?: RevocationCheck & { readonly list?: RevocationList };
  /**
   * Lists follow identity (tools, resources, templates, prompts): `'hide'` (the default) lists an item
   * registered through the boundary only to a caller whose token covers its declared scopes, so a
   * model is not offered what its person may not use; `'show'` lists everything. Either way, using an
   * item without its scopes is a 403 step-up challenge naming them: hiding keeps lists short and
   * relevant, it does not make an item's existence secret (its scopes are in `scopes_supported`).
   */
  listFiltering?: ListFiltering;
  logger?: Logger;
  /**
   * Declared per-tool policy (Cedar): every identity tool call is decided on the actor, agent, chain,
   * scopes, the tool's annotations and its declared input fields; validated when the boundary is
   * built. A permit rule with `@approval("required")` needs `approval`. Default: scopes only.
   */
  policy?: ToolPolicyOptions;
  /**
   * Human approval for calls policy marks `@approval("required")`: the approval page this boundary
   * serves on the resource's origin (`/.baton/approve/<id>`), and where approvals are kept.
   */
  approval?: ApprovalOptions;
  /**
   * DLP (issue #12 item 5): the default data loss prevention policy (secrets and personal data:
   * redact, block or audit) for what identity tools, resources and prompts send: results, thrown
   * errors, progress messages. A tool's, resource's or prompt's own `dlp` replaces it. Default: none.
   */
  dlp?: DlpPolicy;
  /**
   * Rate limits (issue #12 item 6) on `tools/call`, per person, per agent and per tool, in memory or in
   * Redis shared by several instances. Over a limit: HTTP 429 with `Retry-After`, audited `rate_limited`.
   */
  rateLimits?: BoundaryRateLimits;
  /**
   * Sender-constrained tokens (issue #14). `dpop`: `Authorization: DPoP` with a proof per request for
   * tokens bound by `cnf.jkt` (RFC 9449), its `replay` store shared by every instance (Redis:
   * `@baton/resource-server/redis`), `nonces.secret` shared too when nonces are on, `required` to
   * refuse bearer tokens (RFC 9728 `dpop_bound_access_tokens_required`). `mtls: {}`: tokens bound by
   * `cnf["x5t#S256"]` need the TLS client certificate the adapter passes (`clientCertificate`).
   * The proof's `htu` is this resource's configured origin and the request's path, never the `Host`
   * header, so a proxy in front changes nothing. Default: neither, and any token with `cnf` is refused.
   * A verified binding makes the envelope `authorization.confidence: "high"` with `binding`.
   */
  senderConstraint?: SenderConstraintOptions;
}

/**
 * Anything with the shape of SDK v2's `createMcpHandler` result; for SDK v1's web-standard transport,
 * `{ fetch: (request, options) => transport.handleRequest(request, options) }`.
 */
export interface FetchMcpHandler {
  fetch(request: Request, options?: McpHandlerRequestOptions): Promise<Response>;
}

/** Per-request inputs a host may hand `protect(...).fetch`: a body it already parsed, the TLS client certificate. */
export interface ProtectedRequestOptions {
  /** The JSON body as the host parsed it (Express `req.body`, Hono `c.get('parsedBody')`). */
  parsedBody?: unknown;
  /**
   * The TLS client certificate the connection's handshake verified (`clientCertificateOf(socket)` in
   * `@baton/resource-server/node`), for certificate-bound tokens (RFC 8705 §3). Never from a header.
   */
  clientCertificate?: ClientCertificate | undefined;
}

/** The boundary's decision on one request: answer it as is, or hand it to the MCP server. */
export type BoundaryAdmission =
  | { admitted: false; response: Response }
  | {
      admitted: true;
      /** The request without its `Authorization` header. Its body may have been read: use `parsedBody`. */
      request: Request;
      /** For the SDK: the validated identity, the token withheld. */
      authInfo: AuthInfo;
      /** The JSON-RPC body, parsed once (undefined for a request without a JSON body). */
      parsedBody: unknown;
      /**
       * Headers the response must carry (a fresh `DPoP-Nonce` when DPoP nonces are on, RFC 9449
       * §8.2): `protect` adds them; an adapter serving the admitted request itself must too.
       */
      responseHeaders: Readonly<Record<string, string>>;
      /**
       * Serves the request: the MCP handling must run inside `serve` (e.g. `serve(() => mcp.fetch(…))`,
       * `serve(next)`), because the boundary's tools open a request context only while its request is
       * in flight.
       */
      serve<T>(handle: () => T): T;
      /**
       * Ends the request: from now on its context opens nothing, even from a continuation (a timer, a
       * kept promise) that still carries its async context. `protect` calls it when the response body
       * ends or is cancelled; a Node adapter when the response closes.
       */
      end(): void;
    };

/**
 * The identity boundary in front of an MCP server: it serves RFC 9728 metadata, validates the bearer
 * token (answering 401/403 with the MCP authorization challenges), and hands the SDK an `AuthInfo`
 * that carries the validated identity but not the token. The token goes no further.
 *
 * @example
 * const boundary = new IdentityBoundary({ resource, authorizationServers: [issuer], tokenVerifier, envelopes, audit });
 * const mcp = createMcpHandler(() => buildServer(boundary));     // tools use boundary.registerTool
 * serveNodeRequests(http.createServer(), boundary.protect(mcp)).listen(port); // @baton/resource-server/node
 */
export class IdentityBoundary {
  readonly resource: URL;
  readonly resourceMetadataUrl: string;
  readonly metadata: ProtectedResourceMetadata;
  /** Absolute URL of the envelope JWKS this boundary serves. */
  readonly envelopeJwksUrl: string;
  readonly #verifier: AccessTokenVerifier;
  readonly #settings: BoundarySettings;
  readonly #challengeScopes: readonly string[];
  readonly #maxRequestBodySize: number | undefined;
  /**
   * The scopes each identity tool, resource and prompt declared, so that a `tools/call`,
   * `resources/read` or `prompts/get` lacking them is answered with the 403 step-up challenge before
   * dispatch, on every SDK (v1 has no pre-dispatch hook), and lists show what the caller may use.
   */
  readonly #surface = new SurfaceRegistry();
  readonly #listFiltering: ListFiltering;
  readonly #allowedHostnames: string[];
  /** The deployment's rule, or undefined for `defaultCallerKind` (answered from the chain parsed once). */
  readonly #callerKind: CallerKindRule | undefined;
  readonly #acceptServices: boolean;
  readonly #trustedTraceCallers: ReadonlySet<string>;
  readonly #paths: { resource: string; metadata: string; jwks: string };
  /**
   * The caller's token per request context, for the broker's subject token. Held by this instance
   * only: a context from another boundary, or one built by hand, opens nothing.
   */
  readonly #sealed = new WeakMap<BoundaryRequestContext, Omit<OpenedRequest, 'settings'>>();
  /**
   * The request context of the MCP request being served. A wrapper opens only this one: a context
   * kept from another request (another person's, or an expired one) opens nothing.
   */
  readonly #inFlight = new AsyncLocalStorage<InFlightRequest>();
  /** Handed to the wrappers this boundary registers, and to nothing else (see `BoundaryAccess`). */
  readonly #access: BoundaryAccess;
  /**
   * What this boundary derived from each accepted claims object, so that a token seen again (a
   * caching verifier returns the same frozen claims) is derived and validated once, not per request.
   */
  readonly #accepted = new WeakMap<AccessTokenClaims, AcceptedClaims>();
  readonly #revocations: RevocationCheck | undefined;
  /**
   * Whom a refusal after the token verified stopped (a revocation, a failed DPoP proof or certificate
   * binding), for its audit record (keyed by the refusal).
   */
  readonly #refusedIdentity = new WeakMap<BearerError, { identity: Identity; traceTrusted: boolean }>();
  /** Sender-constrained tokens (issue #14): DPoP proofs and certificate binding, checked per request. */
  readonly #senderConstraints: SenderConstraints;
  /** What refusals' challenges say: metadata URL, scopes, DPoP `algs`. */
  readonly #challenge: ChallengeOptions;
  /** The approval pages, when the boundary takes approvals (issue #12). */
  readonly #approvalPages: ApprovalPages | undefined;
  /** Rate limits (issue #12 item 6), when declared. */
  readonly #rateLimits: ToolRateLimits | undefined;

  constructor(options: IdentityBoundaryOptions) {
    if (!options?.resource) throw new TypeError('IdentityBoundary: resource is required');
    if (!options.tokenVerifier) throw new TypeError('IdentityBoundary: tokenVerifier is required');
    if (!options.envelopes)
      throw new TypeError('IdentityBoundary: envelopes (an EnvelopeIssuer) is required');
    if (!options.audit) throw new TypeError('IdentityBoundary: audit (an AuditSink) is required');
    this.resource = new URL(options.resource);
    if (this.resource.hash)
      throw new TypeError('IdentityBoundary: resource must not have a fragment (RFC 8707)');
    // Sender-constrained tokens (issue #14): validated here, so a missing replay store fails at start.
    this.#senderConstraints = new SenderConstraints(options.senderConstraint ?? {});
    const bound = this.#senderConstraints.metadata();
    this.metadata = protectedResourceMetadata({
      resource: options.resource,
      authorizationServers: [...(options.authorizationServers ?? [])],
      ...(options.scopesSupported ? { scopesSupported: [...options.scopesSupported] } : {}),
      ...(options.resourceName ? { resourceName: options.resourceName } : {}),
      ...(bound.dpop_signing_alg_values_supported
        ? {
            dpopSigningAlgValuesSupported: bound.dpop_signing_alg_values_supported,
            dpopBoundAccessTokensRequired: bound.dpop_bound_access_tokens_required ?? false,
          }
        : {}),
      ...(bound.tls_client_certificate_bound_access_tokens
        ? { tlsClientCertificateBoundAccessTokens: true }
        : {}),
    });
    this.resourceMetadataUrl = protectedResourceMetadataUrl(options.resource).href;
    const jwksPath = options.envelopeJwksPath ?? '/.well-known/jwks.json';
    if (!jwksPath.startsWith('/'))
      throw new TypeError('IdentityBoundary: envelopeJwksPath must be an absolute path');
    this.envelopeJwksUrl = new URL(jwksPath, this.resource.origin).href;
    this.#paths = {
      resource: stripTrailingSlash(this.resource.pathname),
      metadata: new URL(this.resourceMetadataUrl).pathname,
      jwks: new URL(this.envelopeJwksUrl).pathname,
    };
    this.#verifier = options.tokenVerifier;
    this.#challengeScopes = options.challengeScopes ?? options.scopesSupported ?? [];
    this.#challenge = {
      resourceMetadataUrl: this.resourceMetadataUrl,
      scopes: this.#challengeScopes,
      ...this.#senderConstraints.challenge(),
    };
    const advertised = options.scopesSupported;
    if (
      options.challengeScopes &&
      advertised &&
      options.challengeScopes.some((scope) => !advertised.includes(scope))
    )
      throw new TypeError('IdentityBoundary: challengeScopes must be among scopesSupported');
    if (options.maxRequestBodySize !== undefined && !(options.maxRequestBodySize > 0))
      throw new TypeError('IdentityBoundary: maxRequestBodySize must be a positive number');
    this.#maxRequestBodySize = options.maxRequestBodySize;
    this.#allowedHostnames = [
      ...(options.allowedHostnames ??
        (isLoopbackHostname(this.resource.hostname)
          ? localhostAllowedHostnames()
          : [this.resource.hostname])),
    ];
    const audit = options.operations?.countAudit(options.audit) ?? options.audit;
    const verifiedTokens = (options.tokenVerifier as { cache?: unknown }).cache;
    if (options.operations && verifiedTokens instanceof VerifiedTokenCache) {
      options.operations.observeVerifiedTokenCache(verifiedTokens);
    }
    const logger = options.logger ?? createLogger({ name: 'baton-boundary' });
    // Not needed for refusal (every request is checked against the list), but a revoked token's
    // verification need not be kept either.
    const revocationList = revocationListOf(options.revocations);
    if (revocationList && verifiedTokens instanceof VerifiedTokenCache)
      followRevocations(revocationList, verifiedTokens);
    this.#settings = {
      component: options.resource,
      envelopes: options.envelopes,
      delegation: {
        mode: options.delegation?.mode ?? 'service_identity',
        // Audiences (resource URIs), so that a downstream API can check it is one of them.
        allowed:
          options.delegation?.allowed ??
          options.downstream?.services.map((service) => service.audience ?? service.url) ??
          [],
      },
      audit,
      logger,
      scopes:
        options.scopeImplications === undefined
          ? ScopeImplications.none
          : new ScopeImplications(options.scopeImplications, 'IdentityBoundary: scopeImplications'),
      downstream: options.downstream
        ? downstreamSettings(options.downstream, options, audit, logger)
        : undefined,
      // DLP (issue #12 item 5): checked here, so a misspelt detector fails at start.
      ...(options.dlp ? { dlp: checkedDlpPolicy(options.dlp, 'IdentityBoundary') } : {}),
    };
    // Declared per-tool policy and human approval (issue #12): compiled and validated here, at start.
    if (options.approval && !options.policy)
      throw new TypeError('IdentityBoundary: approval needs a policy whose rules ask for it');
    if (options.policy) {
      const policy = new ToolPolicy(options.policy);
      const approvals = options.approval
        ? new Approvals(options.approval, {
            resource: this.resource,
            audit,
            component: options.resource,
            logger,
          })
        : undefined;
      if (policy.asksForApproval && !approvals)
        throw new TypeError(
          'IdentityBoundary: the policy has @approval("required") rules; configure approval',
        );
      this.#settings.toolGate = { policy, approvals };
      this.#approvalPages = approvals ? new ApprovalPages(approvals, logger) : undefined;
    }
    // Rate limits (issue #12 item 6): validated and built at start.
    this.#rateLimits = options.rateLimits ? new ToolRateLimits(options.rateLimits, logger) : undefined;
    if (!delegationPolicyFormsEnvelope(this.#settings.delegation)) {
      throw new TypeError(
        'IdentityBoundary: delegation must have a known mode and unique allowed audiences that fit an envelope',
      );
    }
    if (options.callerKind !== undefined && typeof options.callerKind !== 'function')
      throw new TypeError('IdentityBoundary: callerKind must be a function of the validated claims');
    this.#callerKind = options.callerKind;
    const serviceCallers = options.serviceCallers ?? 'refuse';
    if (serviceCallers !== 'refuse' && serviceCallers !== 'accept')
      throw new TypeError("IdentityBoundary: serviceCallers must be 'refuse' or 'accept'");
    this.#acceptServices = serviceCallers === 'accept';
    this.#trustedTraceCallers = new Set(options.trustedTraceCallers ?? []);
    if (options.revocations !== undefined && typeof options.revocations?.check !== 'function')
      throw new TypeError('IdentityBoundary: revocations must have a check(claims) function');
    this.#revocations = options.revocations;
    // Resources, prompts, list filtering (issue #12): how lists follow identity.
    this.#listFiltering = options.listFiltering ?? 'hide';
    if (this.#listFiltering !== 'hide' && this.#listFiltering !== 'show')
      throw new TypeError("IdentityBoundary: listFiltering must be 'hide' or 'show'");
    const inFlight = this.#inFlight;
    const unseal = (context: BoundaryRequestContext) => this.#unseal(context);
    this.#access = Object.freeze({
      open(context: BoundaryRequestContext): OpenedRequest | undefined {
        const current = inFlight.getStore();
        return current?.live === true && current.context === context ? unseal(context) : undefined;
      },
    });
  }

  /** What was sealed for `context` at authentication, while its token is unexpired. */
  #unseal(context: BoundaryRequestContext): OpenedRequest | undefined {
    const request = this.#sealed.get(context);
    if (request === undefined || request.claims.expiresAt * 1000 <= Date.now()) return undefined;
    return { settings: this.#settings, ...request };
  }

  /**
   * Registers a tool that runs only behind this boundary and receives `{ identity, input }`, on an SDK
   * v2 or SDK v1 `McpServer`. The boundary answers a `tools/call` lacking the declared scopes with a
   * 403 step-up challenge before dispatch (SDK v2's scope challenge is a second line); the wrapper checks
   * the caller's type and the scopes again, mints the envelope, runs the handler and records one
   * audit event per invocation. One boundary gives a tool name one scope set.
   *
   * @example
   * boundary.registerTool(server, 'list_orders', { scopes: ['orders:read'], inputSchema: z.object({}) },
   *   async ({ identity }) => ({ content: [{ type: 'text', text: JSON.stringify(ordersOf(identity.actor.sub)) }] }));
   */
  registerTool<Host extends ToolHost, InputSchema extends StandardSchemaWithJSON | undefined = undefined>(
    server: Host,
    name: string,
    config: IdentityToolConfig<InputSchema>,
    handler: IdentityToolHandler<InputOf<InputSchema>>,
  ): ReturnType<Host['registerTool']> {
    const scopes = declaredScopes(`registerTool(${name})`, config?.scopes);
    const item = { kind: 'tool' as const, name, scopes };
    this.#surface.assertDeclarable(item);
    // Declared per-tool policy (issue #12): a tool shows policy only input fields the policy declares.
    const declared = this.#settings.toolGate?.policy.inputAttributes ?? {};
    const undeclared = (config?.policyInput ?? []).filter((field) => !Object.hasOwn(declared, field));
    if (undeclared.length > 0)
      throw new TypeError(
        `registerTool(${name}): policyInput ${undeclared.join(', ')} is not among the policy's inputAttributes`,
      );
    const registered = registerIdentityToolWith(this.#access, server, name, config, handler);
    this.#surface.declare(item);
    this.#followIdentityInLists(server);
    return registered as ReturnType<Host['registerTool']>;
  }

  // Resources and prompts with identity, and lists that follow it (issue #12).

  /**
   * Registers a resource (a static URI, or an SDK `ResourceTemplate` of either SDK) that runs only
   * behind this boundary and receives `{ identity, uri, variables }`, on an SDK v2 or v1 `McpServer`.
   * A `resources/read` lacking the declared scopes is a 403 step-up challenge before dispatch; each
   * read is audited (`resource.read`). Template variables are input, never identity.
   *
   * @example
   * boundary.registerResource(server, 'my-pipeline', 'orders://me/pipeline', { scopes: ['orders:read'] },
   *   async ({ identity, uri }) => ({ contents: [{ uri: uri.href, text: JSON.stringify(pipelineOf(identity.actor.sub)) }] }));
   */
  registerResource<Host extends ResourceHost>(
    server: Host,
    name: string,
    uriOrTemplate: string | UriTemplateLike,
    config: IdentityResourceConfig,
    handler: IdentityResourceHandler,
  ): ReturnType<Host['registerResource']> {
    const scopes = declaredScopes(`registerResource(${name})`, config?.scopes);
    const template = typeof uriOrTemplate === 'string' ? undefined : uriOrTemplate;
    const item = {
      kind: 'resource' as const,
      name,
      scopes,
      ...(template ? {} : { uri: String(uriOrTemplate) }),
    };
    this.#surface.assertDeclarable(item, template);
    const registered = registerIdentityResourceWith(
      this.#access,
      server,
      name,
      uriOrTemplate,
      scopes,
      config,
      handler,
    );
    this.#surface.declare(item, template);
    this.#followIdentityInLists(server);
    return registered as ReturnType<Host['registerResource']>;
  }

  /**
   * Registers a prompt that runs only behind this boundary and receives `{ identity, args }`, on an
   * SDK v2 or v1 `McpServer`. A `prompts/get` lacking the declared scopes is a 403 step-up challenge
   * before dispatch; each get is audited (`prompt.get`).
   *
   * @example
   * boundary.registerPrompt(server, 'review_my_orders', { scopes: ['orders:read'] },
   *   async ({ identity }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Review ${identity.actor.sub}'s orders` } }] }));
   */
  registerPrompt<Host extends PromptHost, ArgsSchema extends StandardSchemaWithJSON | undefined = undefined>(
    server: Host,
    name: string,
    config: IdentityPromptConfig<ArgsSchema>,
    handler: IdentityPromptHandler<InputOf<ArgsSchema>>,
  ): ReturnType<Host['registerPrompt']> {
    const scopes = declaredScopes(`registerPrompt(${name})`, config?.scopes);
    const item = { kind: 'prompt' as const, name, scopes };
    this.#surface.assertDeclarable(item);
    const registered = registerIdentityPromptWith(this.#access, server, name, scopes, config, handler);
    this.#surface.declare(item);
    this.#followIdentityInLists(server);
    return registered as ReturnType<Host['registerPrompt']>;
  }

  /** With `listFiltering: 'hide'`, wraps the server's list handlers (once per server) to follow identity. */
  #followIdentityInLists(server: unknown): void {
    if (this.#listFiltering === 'hide') filterListsByIdentity(server, this.#access, this.#surface);
  }

  /**
   * Validates the request's access token and, for a sender-constrained one, its binding. Returns the
   * sealed request context, or throws `BearerError`.
   */
  async #authenticate(
    request: Request,
    url: URL,
    clientCertificate: ClientCertificate | undefined,
  ): Promise<BoundaryRequestContext> {
    const presented = this.#senderConstraints.presented(request.headers);
    const token = presented.token;
    const verified = await this.#verifier.verify(token);
    const { claims, identity, envelopeBody } = this.#accepted.get(verified) ?? this.#accept(verified);
    const traceparent = request.headers.get('traceparent') ?? undefined;
    // An upstream Baton hop: the broker exchanged this token, so an authenticated service presents it.
    const traceTrusted =
      identity.delegation.services.length > 0 || this.#trustedTraceCallers.has(claims.clientId);
    // Every request, a cached verification included: a proof is for one request (RFC 9449 §4.3), and a
    // certificate binding holds for the connection it came on. `htu` is the configured origin with the
    // request's path: behind a proxy the Host header is the proxy's business, not the client's URL.
    try {
      await this.#senderConstraints.check(claims.claims, presented, {
        method: request.method,
        htu: requestHtu(this.resource.origin, url.pathname),
        clientCertificate,
      });
    } catch (error) {
      if (error instanceof BearerError) this.#refusedIdentity.set(error, { identity, traceTrusted });
      throw error;
    }
    // Every request, a cached verification included: a revocation must stop a token already seen.
    if (this.#revocations !== undefined && this.#revocations.check(claims.claims) !== undefined) {
      const refused = await revocationRefusal(this.#revocations, claims, token);
      if (refused) {
        this.#refusedIdentity.set(refused, { identity, traceTrusted });
        throw refused;
      }
    }
    const context = new BoundaryRequestContext({
      claims,
      callerKind: identity.actor.type,
      traceparent: traceparent ?? null,
      traceTrusted,
    });
    this.#sealed.set(context, {
      subjectToken: token,
      claims,
      identity,
      traceparent,
      traceTrusted,
      // Decided here, where the headers are: any propagator's header (`b3`, ...) means the host's active
      // span may be in the caller's trace.
      sentTraceContext: carriesTraceContext((header) => request.headers.get(header)),
      envelopeBody,
    });
    return context;
  }

  /**
   * The checks on validated claims that depend on nothing but the claims and this boundary's settings,
   * with what they derive; remembered per claims object. Throws `BearerError`.
   */
  #accept(verified: AccessTokenClaims): AcceptedClaims {
    // Frozen all the way down: the context that carries these claims is readable by any SDK code.
    const claims = frozenClaims(verified);
    // The one identity derivation for this token (remembered per verified claims object): the envelope, the audit and the tool context
    // all read this result, never the claims again. A deployment's rule (`callerKind`) is asked once
    // the `act` chain has parsed; what it throws, or a wrong answer, is its own failure, not the token's.
    const rule = this.#callerKind;
    let ruleFailure: { error: unknown } | undefined;
    const actorType = rule
      ? () => {
          try {
            const kind = rule(claims);
            if (kind !== 'user' && kind !== 'service')
              throw new TypeError('IdentityBoundary: callerKind returned neither user nor service');
            return kind;
          } catch (error) {
            ruleFailure = { error };
            throw error;
          }
        }
      : undefined;
    let identity: Identity;
    try {
      identity = identityFromClaims(claims, actorType ? { actorType } : {});
    } catch {
      if (ruleFailure) throw ruleFailure.error;
      throw invalidToken('claims_invalid', 'the access token carries a malformed act claim');
    }
    const callerKind = identity.actor.type;
    if (callerKind === 'service' && !this.#acceptServices) {
      // A machine's own token (client credentials) acting as if a person had authorised it.
      throw invalidToken(
        'caller_not_a_person',
        'this resource acts for people: a token with no person behind it is not accepted',
      );
    }
    let envelopeBody: ValidatedEnvelopeBody;
    try {
      // Validated here, once per token: each tool call mints it under its own trace id unchecked.
      envelopeBody = validateEnvelopeBody(
        envelopeBodyFromIdentity(identity, {
          traceId: PLACEHOLDER_TRACE_ID,
          delegation: this.#settings.delegation,
          // A request with this token is served only once its binding verified (`#authenticate`).
          binding: bindingOf(claims.claims.cnf),
        }),
      );
    } catch {
      // Scopes outside the RFC 6749 scope-token syntax, oversized identifiers, too many scopes: the
      // envelope could never be minted, so every tool call would fail. Refuse the token instead.
      throw invalidToken(
        'claims_invalid',
        'the access token claims cannot form an execution identity envelope',
      );
    }
    const accepted = { claims, identity, envelopeBody };
    this.#accepted.set(verified, accepted);
    return accepted;
  }

  /**
   * Whether a POST to `pathname` carries a form this boundary reads itself (the approval pages'
   * decision form): an adapter that reads no body but JSON forwards this one too.
   * @internal for the Node adapter; not a decision (`admit` decides).
   */
  readsFormAt(pathname: string): boolean {
    return this.#approvalPages?.owns(stripTrailingSlash(pathname)) ?? false;
  }

  /**
   * Decides one request, for adapters: metadata and JWKS are answered, a request without a valid token
   * or lacking a called tool's scopes is refused (401/403 with the challenge, audited), and an admitted
   * request comes back without `Authorization`, with the `AuthInfo` for the SDK and the body parsed
   * once. `protect` and the Node adapter (`@baton/mcp-server/node`) only translate this decision.
   */
  async admit(request: Request, options: ProtectedRequestOptions = {}): Promise<BoundaryAdmission> {
    const answer = (response: Response) => ({ admitted: false as const, response });
    // Fetch runtimes (Hono, Deno, Bun) hand over requests Baton's Node adapter never saw: a Host no URL
    // can be built from is a 400 here, not an exception. Without a Host header, the URL carries the host.
    const address = requestAddress(request);
    if ('reason' in address) {
      const { status, reason } = address;
      this.#settings.logger.warn(
        { component: this.#settings.component, status, reason },
        'malformed request refused',
      );
      return answer(malformedRequestResponse(address));
    }
    // DNS-rebinding and cross-site defence (MCP transport security): the SDK's handler does none.
    const host = validateHostHeader(address.host, this.#allowedHostnames);
    if (!host.ok)
      return answer(
        Response.json({ error: 'invalid_request', error_description: host.message }, { status: 403 }),
      );
    const rejected = originValidationResponse(request, this.#allowedHostnames);
    if (rejected) return answer(rejected);
    const path = stripTrailingSlash(address.url.pathname);
    // Matched here with the trailing slash stripped, so answered here too: the path-checking helper
    // would not recognise `/.well-known/oauth-protected-resource/mcp/` and answer nothing.
    if (path === this.#paths.metadata)
      return answer(protectedResourceMetadataDocumentResponse(request, this.metadata));
    if (path === this.#paths.jwks && (request.method === 'GET' || request.method === 'HEAD')) {
      return answer(
        Response.json(this.#settings.envelopes.jwks(), { headers: { 'cache-control': 'max-age=60' } }),
      );
    }
    // Human approval (issue #12): the approval pages, on the resource's origin, signed in at the IdP.
    if (this.#approvalPages?.owns(path))
      return answer(await this.#approvalPages.handle(request, address.url));
    if (path !== this.#paths.resource) return answer(Response.json({ error: 'not_found' }, { status: 404 }));
    let context: BoundaryRequestContext;
    try {
      context = await this.#authenticate(request, address.url, options.clientCertificate);
    } catch (error) {
      this.#logRefusal(error);
      const refusedFor = error instanceof BearerError ? this.#refusedIdentity.get(error) : undefined;
      // Audited: whom a revocation or a failed binding stopped. Not a nonce challenge: it is RFC 9449
      // §9's ordinary first round trip, not a refusal of anything the caller proved.
      if (refusedFor && (error as BearerError).error !== 'use_dpop_nonce')
        await this.#recordIdentifiedRefusal(error as BearerError, refusedFor, request, options.parsedBody);
      recordRefusalSpan(
        request.headers,
        error instanceof BearerError ? error.status : 500,
        error instanceof BearerError ? error.reason : 'internal_error',
        error instanceof BearerError && error.status < 500 ? 'denied' : 'error',
      );
      return answer(bearerErrorResponse(error, this.#challenge));
    }
    // Read only after authentication: an anonymous caller never makes the boundary buffer a body.
    const body = await readJsonRpcBody(request, options.parsedBody, this.#maxRequestBodySize);
    if ('response' in body) return answer(body.response);
    const oversized = oversizedBatchResponse(body.parsedBody);
    if (oversized) return answer(oversized);
    const stepUp = await this.#stepUpChallenge(context, body.parsedBody);
    if (stepUp) return answer(stepUp);
    // Rate limits (issue #12 item 6): counted after the scope check, before the MCP server sees the call.
    const limited = await this.#rateLimited(context, body.parsedBody);
    if (limited) return answer(limited);
    const inFlight: InFlightRequest = { context, live: true };
    // RFC 9449 §8.2: a fresh nonce rides on successful responses too, so clients never wait on a 401.
    const nonce = this.#senderConstraints.freshNonce();
    return {
      admitted: true,
      request: withoutAuthorization(request),
      authInfo: context.toAuthInfo(this.resource, this.resourceMetadataUrl),
      parsedBody: body.parsedBody,
      responseHeaders: Object.freeze<Record<string, string>>(nonce ? { 'dpop-nonce': nonce } : {}),
      serve: (handle) => this.#inFlight.run(inFlight, handle),
      end: () => {
        inFlight.live = false;
      },
    };
  }

  /**
   * Wraps a fetch-style MCP handler (SDK v2 `createMcpHandler(...)`, SDK v1's web-standard transport):
   * metadata, authentication, the step-up challenge, then the MCP request with the `Authorization`
   * header removed and the token withheld from `AuthInfo`. Any `authInfo` a caller passes in is
   * ignored: only this boundary decides who is calling. A body the host already parsed is passed on.
   */
  protect(mcp: FetchMcpHandler): {
    fetch(request: Request, options?: ProtectedRequestOptions): Promise<Response>;
  } {
    const fetch = async (request: Request, options?: ProtectedRequestOptions): Promise<Response> => {
      const admission = await this.admit(request, {
        parsedBody: options?.parsedBody,
        clientCertificate: options?.clientCertificate,
      });
      if (!admission.admitted) return admission.response;
      let response: Response;
      try {
        response = await admission.serve(() =>
          mcp.fetch(admission.request, {
            authInfo: admission.authInfo,
            ...(admission.parsedBody !== undefined ? { parsedBody: admission.parsedBody } : {}),
          }),
        );
      } catch (error) {
        admission.end();
        throw error;
      }
      return endingWithBody(response, admission.end, admission.responseHeaders);
    };
    return { fetch };
  }

  /**
   * The 403 `insufficient_scope` answer for a `tools/call` naming a tool whose declared scopes the
   * token lacks, audited per tool; `undefined` when every called tool is covered (or unknown here:
   * the tool wrapper refuses those itself).
   */
  async #stepUpChallenge(
    context: BoundaryRequestContext,
    parsedBody: unknown,
  ): Promise<Response | undefined> {
    // Tools, resources and prompts (issue #12): each call resolved to the item the boundary registered.
    const calls = surfaceCallsIn(parsedBody);
    if (calls.length === 0) return undefined;
    // Before the request is served, so read from the seal directly rather than through `#access`.
    const opened = this.#unseal(context);
    if (!opened) return undefined;
    const required = new Set<string>();
    const denied: Array<{ item: DeclaredItem; meta: Record<string, unknown> | undefined }> = [];
    for (const call of calls) {
      const item = this.#surface.itemOf(call);
      if (!item || scopesCover(opened.claims.scopes, item.scopes, opened.settings.scopes)) continue;
      for (const scope of item.scopes) required.add(scope);
      denied.push({ item, meta: call.meta });
    }
    if (denied.length === 0) return undefined;
    // One record per item refused, however often a batch names it: a request cannot multiply audit writes.
    const recorded = new Set<string>();
    for (const { item, meta } of denied) {
      const key = `${item.kind} ${item.name}`;
      if (recorded.has(key)) continue;
      recorded.add(key);
      await recordSurfaceStepUpDenial(opened, item, meta);
    }
    const error = insufficientScope(
      opened.settings.scopes.least([...required]),
      challengeDescription(
        recorded.size === 1
          ? `${denied[0]!.item.kind} ${denied[0]!.item.name} requires more scope`
          : 'these calls require more scope',
      ),
    );
    this.#logRefusal(error);
    return bearerErrorResponse(error, {
      resourceMetadataUrl: this.resourceMetadataUrl,
      ...this.#senderConstraints.challenge(),
    });
  }

  /**
   * Rate limits (issue #12 item 6): the 429 answer for a request whose `tools/call`s reach a declared
   * limit, audited `rate_limited` for the tool named; `undefined` within the limits.
   */
  async #rateLimited(context: BoundaryRequestContext, parsedBody: unknown): Promise<Response | undefined> {
    if (!this.#rateLimits) return undefined;
    const calls = toolCallsIn(parsedBody);
    const opened = calls.length > 0 ? this.#unseal(context) : undefined;
    if (!opened) return undefined;
    const limited = await this.#rateLimits.consume(
      opened.identity,
      calls.map((call) => call.name),
    );
    if (!limited) return undefined;
    this.#settings.logger.warn(
      {
        component: this.#settings.component,
        tool: limited.tool,
        limit: limited.limit,
        reason: 'rate_limited',
      },
      'request refused at the identity boundary',
    );
    const call = calls.find((candidate) => candidate.name === limited.tool);
    await recordSurfaceStepUpDenial(opened, { kind: 'tool', name: limited.tool }, call?.meta, 'rate_limited');
    return rateLimitedResponse(limited, parsedBody);
  }

  /**
   * Audits a request refused after its token verified (a revocation, a failed DPoP proof or
   * certificate binding): whom it stopped, at which tool (when the body is a `tools/call`), and why.
   * The refusal stands whether or not the record is written; a failed write is logged (without the
   * event, which holds no secret anyway).
   */
  async #recordIdentifiedRefusal(
    error: BearerError,
    refusedFor: { identity: Identity; traceTrusted: boolean },
    request: Request,
    parsedBody: unknown,
  ): Promise<void> {
    const started = performance.now();
    // The tool called, or (issue #12) the resource or prompt the boundary registered; else the server.
    let item: SurfaceItem = { kind: 'tool', name: 'mcp' };
    try {
      const body = await readJsonRpcBody(request, parsedBody, this.#maxRequestBodySize);
      const call = 'parsedBody' in body ? surfaceCallsIn(body.parsedBody)[0] : undefined;
      if (call?.kind === 'tool') item = { kind: 'tool', name: call.ref };
      else if (call) item = this.#surface.itemOf(call) ?? item;
    } catch {
      // An unreadable body names no tool; the refusal is recorded all the same.
    }
    const trace = continueTrace(request.headers.get('traceparent'), refusedFor.traceTrusted);
    const event = auditEventOf(refusedFor.identity, {
      action: SURFACE_ACTION[item.kind],
      component: this.#settings.component,
      target: { type: item.kind, name: item.name },
      mode: this.#settings.delegation.mode,
      outcome: error.status === 401 ? 'denied' : 'error',
      reason: error.reason,
      started,
      trace: {
        traceId: trace.traceId,
        ...(trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {}),
        ...(trace.link ? { link: trace.link } : {}),
      },
    });
    try {
      await this.#settings.audit.write(event);
    } catch (auditError) {
      this.#settings.logger.error(
        { audit_event_id: event.id, err_name: (auditError as Error)?.name },
        'audit write failed',
      );
    }
  }

  #logRefusal(error: unknown): void {
    if (error instanceof BearerError) {
      // The reason code and public description only: never the token, never the cause's payload.
      this.#settings.logger.warn(
        {
          component: this.#settings.component,
          status: error.status,
          error: error.error,
          reason: error.reason,
        },
        'request refused at the identity boundary',
      );
    } else {
      this.#settings.logger.error(
        { component: this.#settings.component, err_name: (error as Error)?.name },
        'identity boundary failed',
      );
    }
  }
}

/**
 * The request as the SDK (and through it, tool code) may see it: without the `Authorization` header
 * or the `DPoP` proof (spent here, and no business of tool code). Removing the headers in place avoids
 * copying the body stream; a request with immutable headers is copied instead.
 */
function withoutAuthorization(request: Request): Request {
  try {
    request.headers.delete('authorization');
    request.headers.delete('dpop');
    if (!request.headers.has('authorization') && !request.headers.has('dpop')) return request;
  } catch {
    // Immutable headers guard: fall through to a copy.
  }
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  headers.delete('dpop');
  return new Request(request, { headers });
}

function stripTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Any valid W3C trace-id: the real one is chosen per tool call (`MintOptions.traceId`). */
const PLACEHOLDER_TRACE_ID = '00000000000000000000000000000001';

/** What the boundary derives from an accepted token's claims (see `#accept`). */
interface AcceptedClaims {
  readonly claims: AccessTokenClaims;
  /** The one identity derivation, done once per verified token. */
  readonly identity: Identity;
  readonly envelopeBody: ValidatedEnvelopeBody;
}

/** The request a tool wrapper may open: its context, while it is being served. */
interface InFlightRequest {
  readonly context: BoundaryRequestContext;
  live: boolean;
}

/**
 * The response, with `end` called when its body has been read to the end or cancelled (an SSE stream
 * stays open as long as the client listens). A response without a body ends the request at once.
 */
function endingWithBody(
  response: Response,
  end: () => void,
  extraHeaders: Readonly<Record<string, string>> = {},
): Response {
  const extra = Object.entries(extraHeaders);
  if (!response.body) {
    end();
    if (extra.length === 0) return response;
    const headers = new Headers(response.headers);
    for (const [name, value] of extra) headers.set(name, value);
    return new Response(null, { status: response.status, statusText: response.statusText, headers });
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  const headers = new Headers(response.headers);
  for (const [name, value] of extra) headers.set(name, value);
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The binding a verified token's `cnf` names (RFC 9449 §6.1, RFC 8705 §3.1), for the envelope: the
 * DPoP key when it has one (a proof per request), else the certificate. Unknown members never reach
 * here (`SenderConstraints` refuses them).
 */
function bindingOf(cnf: unknown): 'dpop' | 'mtls' | undefined {
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  if ('jkt' in cnf) return 'dpop';
  if ('x5t#S256' in cnf) return 'mtls';
  return undefined;
}

/** The list behind a revocation check: a `RevocationList` itself, or a feed's (`RevocationFeed.list`). */
function revocationListOf(revocations: RevocationCheck | undefined): RevocationList | undefined {
  if (revocations instanceof RevocationList) return revocations;
  const list = (revocations as { list?: unknown } | undefined)?.list;
  return list instanceof RevocationList ? list : undefined;
}

/** The downstream client's settings: its services and token caches, following the revocation list if any. */
function downstreamSettings(
  downstream: DownstreamOptions,
  options: IdentityBoundaryOptions,
  audit: AuditSink,
  logger: Logger,
): DownstreamSettings {
  const settings: DownstreamSettings = {
    options: downstream,
    services: indexServices(downstream.services, downstream),
    serviceTokens: new TokenCache({
      refreshSkewSeconds: downstream.refreshSkewSeconds ?? 30,
      ...(options.operations ? { onLookup: options.operations.tokenCacheLookup('service') } : {}),
    }),
    delegatedTokens: new TokenCache({
      refreshSkewSeconds: downstream.refreshSkewSeconds ?? 30,
      ...(options.operations ? { onLookup: options.operations.tokenCacheLookup('delegated') } : {}),
      ...(downstream.tokenStore ? { store: downstream.tokenStore } : {}),
    }),
    audit,
    component: options.resource,
  };
  const list = revocationListOf(options.revocations);
  if (list) {
    // The error's name only: a store's message is not ours to vouch for.
    const onError = (error: unknown) =>
      logger.error({ err_name: (error as Error)?.name }, 'a revoked downstream token could not be dropped');
    followRevocations(list, settings.serviceTokens, { onError });
    followRevocations(list, settings.delegatedTokens, { onError });
  }
  return settings;
}
