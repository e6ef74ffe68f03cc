import {
  type AuditOutcome,
  type AuditSink,
  auditEventOf,
  brokerRefusalReason,
  type DownstreamCallReason,
  type HttpStatusReason,
  httpStatusReason,
  traceparent,
} from '@baton/audit';
import {
  clientCredentialsToken,
  exchangeToken,
  TokenRequestError,
  type TokenRequestOptions,
  type TokenResponse,
} from '@baton/broker-client';
import type { TokenProvenance } from '@baton/core/stores';
import type { Envelope } from '@baton/envelope';
import { TXN_TOKEN_HEADER } from '@baton/envelope';
import { includesResource } from '@baton/resource-server';
import { type Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { context } from '@opentelemetry/api';
import { decodeJwt, type JWTPayload } from 'jose';
import { endHopSpan, type HopSpan, identityAttributes, startHopSpan } from '../telemetry.ts';
import { dpopFetch } from './dpop-fetch.ts';
import { DownstreamError } from './errors.ts';
import type { Binding, DownstreamOptions, FetchDispatcher, IndexedService } from './services.ts';
import type { CachedToken, TokenCache } from './token-cache.ts';
import { TracedClient } from './traced-client.ts';

/** Headers that carry credentials or identity to a service: set by the client alone, never by a tool. */
const CREDENTIAL_HEADERS = [
  'authorization',
  'dpop',
  TXN_TOKEN_HEADER,
  'baton-actor-sub',
  'baton-agent-id',
  'baton-delegation-mode',
] as const;

/** What the boundary gives the downstream client for one tool invocation. */
export interface InvocationIdentity {
  envelope: Envelope;
  /** The envelope's signed form, produced on first use. */
  envelopeToken: () => string;
  /** The caller's original token, sealed by the boundary: used only as the broker's subject token. */
  subjectToken: string;
  /** The verified issuer of the caller's token: exchanged tokens are never shared across issuers. */
  subjectIssuer: string;
  /**
   * Who the caller's token stands for (`tokenProvenance(claims)` from `@baton/resource-server`): kept
   * with each token exchanged from it, so a revocation of the person, session, token or a client of its
   * chain drops that token. Default: the envelope's person and chain only.
   */
  subjectProvenance?: TokenProvenance;
  /**
   * Whether the invocation is still running (and its caller's token unexpired). A client a tool kept
   * after its invocation ended, to act for that person later, is refused. Default: always.
   */
  active?: () => boolean;
  /** The tool invocation's span: every downstream call is a child of it. */
  hop: HopSpan;
}

export interface DownstreamSettings {
  options: DownstreamOptions;
  services: Map<string, IndexedService>;
  /** The server's own tokens (service identity), shared by all callers. */
  serviceTokens: TokenCache;
  /** Tokens exchanged for one person and agent, never shared across them. */
  delegatedTokens: TokenCache;
  audit: AuditSink;
  component: string;
}

/**
 * Downstream calls for one tool invocation. Tool code names a service; the client decides the
 * credentials by the service's declared mode, refuses services the envelope does not allow before any
 * network call, and audits each call. Tool code never holds a token.
 */
export class DownstreamClient {
  readonly #identity: InvocationIdentity;
  readonly #settings: DownstreamSettings;

  constructor(identity: InvocationIdentity, settings: DownstreamSettings) {
    this.#identity = identity;
    this.#settings = settings;
  }

  /**
   * Calls an HTTP API declared as a downstream service. `path` is resolved against the service's
   * URL and must stay inside it: same origin, under its path (`orders`, `orders/7?full=1`). An
   * absolute URL, a scheme-relative `//host`, a root-relative `/path` outside the service's path, a
   * `..` escape or an encoded slash is refused with `ERR_DOWNSTREAM_PATH_REFUSED` before any token
   * is obtained.
   *
   * Redirects are never followed (credentials must not be replayed to another location): a 3xx
   * comes back to the tool as the response, and the tool may call again with a path inside the
   * service.
   *
   * @example
   * const response = await context.downstream.fetch('orders-api', 'orders');
   */
  async fetch(service: string, path = '', init: RequestInit = {}): Promise<Response> {
    this.#assertActive();
    const target = this.#allowed(service);
    const started = performance.now();
    const call = this.#startCall(target);
    let url: URL;
    try {
      url = resolveInside(target, path);
    } catch (error) {
      try {
        await this.#record(target, started, call, 'denied', 'path_outside_service');
      } finally {
        endHopSpan(call, 'denied', 'path_outside_service');
      }
      throw error;
    }
    const headers = new Headers(init.headers);
    // The tool does not choose credentials or identity headers: only what is set below is sent.
    for (const name of CREDENTIAL_HEADERS) headers.delete(name);
    headers.set('traceparent', this.#traceparent(call));
    const token = await this.#tokenFor(target, started, call);
    if (target.mode === 'service_identity') {
      const { envelope } = this.#identity;
      headers.set(TXN_TOKEN_HEADER, this.#identity.envelopeToken());
      // Informational, for the API's logs; the API trusts only the verified envelope.
      headers.set('baton-actor-sub', envelope.actor.sub);
      headers.set('baton-agent-id', envelope.agent.id);
      headers.set('baton-delegation-mode', target.mode);
    }
    let response: Response;
    try {
      // In the call's span: an instrumented fetch makes its client span a child of it.
      response = await context.with(call.context, sendWithToken, undefined, target.binding, token, url, {
        // Only what a call needs, never the tool's whole `init`: options such as undici's `dispatcher`
        // would hand the request, with its bearer token and envelope, to code of the tool's choosing.
        ...requestOptions(init),
        headers,
        // Never follow: a redirect would replay the bearer token and the envelope to its target.
        redirect: 'manual' as const,
      });
    } catch (error) {
      try {
        await this.#record(target, started, call, 'error', 'downstream_unreachable');
      } finally {
        endHopSpan(call, 'error', 'downstream_unreachable');
      }
      throw new DownstreamError(
        'ERR_DOWNSTREAM_UNAVAILABLE',
        `downstream service ${service} is unreachable`,
        { cause: error },
      );
    }
    const outcome = response.ok
      ? 'ok'
      : response.status === 401 || response.status === 403
        ? 'denied'
        : 'error';
    const reason = response.ok ? undefined : httpStatusReason(response.status);
    let recorded = false;
    try {
      await this.#record(target, started, call, outcome, reason);
      recorded = true;
    } finally {
      // The span ends either way; a response the tool never gets (no audit record) is released.
      endHopSpan(call, outcome, reason);
      if (!recorded) await response.body?.cancel().catch(() => {});
    }
    return response;
  }

  /**
   * Connects to a downstream MCP server on the caller's behalf (the server's own boundary validates the
   * exchanged token and names user, agent and this server in its envelope). Close the client when done.
   */
  async connect(service: string): Promise<Client> {
    this.#assertActive();
    const target = this.#allowed(service);
    if (target.mode === 'service_identity') {
      throw new DownstreamError(
        'ERR_DOWNSTREAM_NOT_CONFIGURED',
        `downstream MCP server ${service} must be reached on_behalf_of the caller, not as this server`,
      );
    }
    const started = performance.now();
    const call = this.#startCall(target);
    const token = await this.#tokenFor(target, started, call);
    const client = new TracedClient(
      { name: this.#settings.component, version: '1.0.0' },
      this.#traceparent(call),
    );
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(target.url), {
          // The token lives only in this closure, not in an auth provider the tool could read back
          // through `client.transport`, and it is sent only to the service's own URL.
          fetch: credentialFetchFor(target, token, () => this.#isActive()),
          requestInit: { headers: { traceparent: this.#traceparent(call) }, redirect: 'manual' },
        }),
      );
    } catch (error) {
      await client.close().catch(() => undefined);
      await this.#record(target, started, call, 'error', 'downstream_unreachable');
      endHopSpan(call, 'error', 'downstream_unreachable');
      throw new DownstreamError(
        'ERR_DOWNSTREAM_UNAVAILABLE',
        `downstream MCP server ${service} is unreachable`,
        { cause: error },
      );
    }
    try {
      await this.#record(target, started, call, 'ok');
    } catch (error) {
      await client.close().catch(() => undefined);
      endHopSpan(call, 'error', 'audit_failed');
      throw error;
    }
    endHopSpan(call, 'ok');
    return client;
  }

  #isActive(): boolean {
    return this.#identity.active?.() ?? true;
  }

  #assertActive(): void {
    if (!this.#isActive()) {
      throw new DownstreamError(
        'ERR_DOWNSTREAM_INVOCATION_ENDED',
        'the tool invocation this client was made for has ended; a tool cannot keep acting for its caller',
      );
    }
  }

  #allowed(service: string): IndexedService {
    const target = this.#settings.services.get(service);
    if (!target)
      throw new DownstreamError('ERR_DOWNSTREAM_UNKNOWN_SERVICE', `no downstream service named ${service}`);
    if (!includesResource(this.#identity.envelope.delegation.allowed, target.audience)) {
      throw new DownstreamError(
        'ERR_DOWNSTREAM_NOT_ALLOWED',
        `the envelope does not allow calls to ${service} (${target.audience} is not in delegation.allowed)`,
      );
    }
    return target;
  }

  async #tokenFor(target: IndexedService, started: number, call: HopSpan): Promise<string> {
    const { broker } = this.#settings.options;
    const scopes = normalizeScopes(target.scopes);
    const { binding } = target;
    const transport = brokerTransport(binding);
    try {
      if (target.mode === 'service_identity') {
        // The server's own token, shared by every caller: its request is the server's, in a trace of
        // its own, not filed under the person whose call happened to need it first.
        const cached = await this.#settings.serviceTokens.get(
          JSON.stringify([target.mode, target.audience, scopes, ...bindingKey(binding)]),
          async () =>
            cachedToken(
              binding,
              await clientCredentialsToken(
                broker.issuer,
                broker.credentials,
                { resource: target.audience, scope: scopes },
                transport,
              ),
            ),
          // Revoking this server's client drops its own tokens.
          { subject: broker.credentials.clientId, clients: [broker.credentials.clientId] },
        );
        return cached.accessToken;
      }
      const { envelope } = this.#identity;
      // The key names the caller token's issuer, the person, the agent, the services it came through,
      // what the caller was granted, the audience, the mode, the scopes asked for and what the token is
      // bound to: a token minted for one person, a wider grant or another chain is never served to
      // another, and a token bound to a key or certificate never to a request that does not prove it.
      // JSON-encoded, so no part containing a separator can make two keys collide.
      const key = JSON.stringify([
        target.mode,
        this.#identity.subjectIssuer,
        envelope.actor.type,
        envelope.actor.sub,
        envelope.actor.tenant,
        envelope.agent.id,
        envelope.agent.client_id,
        [...envelope.delegation.chain],
        normalizeScopes(envelope.authorization.scopes),
        target.audience,
        scopes,
        ...bindingKey(binding),
      ]);
      const cached = await this.#settings.delegatedTokens.get(
        key,
        async () =>
          cachedToken(
            binding,
            await exchangeToken(
              broker.issuer,
              broker.credentials,
              {
                subjectToken: this.#identity.subjectToken,
                resource: target.audience,
                scope: scopes,
                delegationMode: target.mode === 'restricted_user' ? 'restricted_user' : 'on_behalf_of',
                traceparent: this.#traceparent(call),
              },
              transport,
            ),
          ),
        this.#provenance(),
      );
      return cached.accessToken;
    } catch (error) {
      if (error instanceof DownstreamError && error.code === 'ERR_DOWNSTREAM_TOKEN_REFUSED') {
        // The broker answered, but not with a token bound as the service declared: never sent.
        try {
          await this.#record(target, started, call, 'denied', 'token_binding_mismatch');
        } finally {
          endHopSpan(call, 'denied', 'token_binding_mismatch');
        }
        throw error;
      }
      const refused = error instanceof TokenRequestError;
      const outcome = refused ? 'denied' : 'error';
      const reason = refused ? brokerRefusalReason(error.error) : 'broker_unreachable';
      try {
        await this.#record(target, started, call, outcome, reason);
      } finally {
        // The span says what the audit says: the same outcome and reason code.
        endHopSpan(call, outcome, reason);
      }
      throw new DownstreamError(
        refused ? 'ERR_DOWNSTREAM_TOKEN_REFUSED' : 'ERR_DOWNSTREAM_UNAVAILABLE',
        refused
          ? `the broker refused a token for ${target.name}: ${error.message}`
          : `the broker could not be reached for ${target.name}`,
        { cause: error },
      );
    }
  }

  /** Who an exchanged token stands for: the caller's token, and this server obtaining it. */
  #provenance(): TokenProvenance {
    const { envelope, subjectProvenance } = this.#identity;
    const clients = new Set([
      this.#settings.options.broker.credentials.clientId,
      ...(subjectProvenance?.clients ?? []),
      envelope.agent.client_id,
      ...envelope.delegation.chain,
    ]);
    return {
      ...subjectProvenance,
      subject: subjectProvenance?.subject ?? envelope.actor.sub,
      clients: [...clients],
    };
  }

  #startCall(target: IndexedService): HopSpan {
    const call = startHopSpan(`call ${target.name}`, 'client', { parent: this.#identity.hop });
    if (!call.span.isRecording()) return call;
    const url = new URL(target.url);
    call.span.setAttributes({
      // The mode this call uses to reach the service, as its audit event records it (not the envelope's).
      ...identityAttributes(this.#identity.envelope, target.mode),
      'baton.downstream.service': target.name,
      'server.address': url.hostname,
      'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    });
    return call;
  }

  /** The `traceparent` of one downstream call: this trace, the call's own span. */
  #traceparent(call: HopSpan): string {
    return traceparent(call.traceId, call.spanId);
  }

  async #record(
    target: IndexedService,
    started: number,
    call: HopSpan,
    outcome: AuditOutcome,
    reason?: DownstreamCallReason | HttpStatusReason,
  ) {
    // The identity the boundary derived, as the envelope carries it, one hop further: this server
    // (by its client id at the broker) now stands outermost in the chain.
    const { envelope } = this.#identity;
    const identity = {
      actor: envelope.actor,
      agent: envelope.agent.id,
      scopes: target.scopes,
      delegation: {
        mode: target.mode,
        chain: [
          this.#settings.options.broker.credentials.clientId,
          ...envelope.delegation.chain,
          envelope.agent.id,
        ],
      },
    };
    await this.#settings.audit.write(
      auditEventOf(identity, {
        action: 'api.call',
        component: this.#settings.component,
        target: { type: 'api', name: target.name },
        outcome,
        reason,
        started,
        envelopeId: envelope.id,
        trace: call,
        // What the call's token is bound to, by thumbprint: the DPoP key, or the certificate.
        ...(confirmationOf(target.binding) ? { cnf: confirmationOf(target.binding) } : {}),
      }),
    );
  }
}

/** The `cnf` a service's tokens carry as declared (RFC 7800): thumbprints only. */
function confirmationOf(binding: Binding): { jkt: string } | { 'x5t#S256': string } | undefined {
  if (binding.dpop) return { jkt: binding.dpop.key.thumbprint };
  if (binding.certificateBound && binding.tls) return { 'x5t#S256': binding.tls.thumbprint };
  return undefined;
}

/**
 * The broker's answer as a token to keep, if it is bound as the service declared: a DPoP service gets
 * a `token_type: DPoP` token (RFC 9449 §5), any other service a token it can send without a proof.
 */
function cachedToken(binding: Binding, response: TokenResponse): CachedToken {
  const dpopBound = typeof response.token_type === 'string' && response.token_type.toLowerCase() === 'dpop';
  if (dpopBound !== (binding.dpop !== undefined)) {
    throw new DownstreamError(
      'ERR_DOWNSTREAM_TOKEN_REFUSED',
      binding.dpop
        ? 'the broker issued a bearer token for a service that requires DPoP-bound tokens'
        : 'the broker issued a DPoP-bound token for a service this server calls without DPoP proofs',
    );
  }
  if (
    binding.certificateBound &&
    binding.tls &&
    !boundToCertificate(response.access_token, binding.tls.thumbprint)
  ) {
    throw new DownstreamError(
      'ERR_DOWNSTREAM_TOKEN_REFUSED',
      "the broker issued a token not bound to this server's certificate for a service that requires certificate-bound tokens",
    );
  }
  return {
    accessToken: response.access_token,
    expiresAt: Math.floor(Date.now() / 1000) + response.expires_in,
  };
}

/**
 * Whether a JWT access token names the certificate in `cnf["x5t#S256"]` (RFC 8705 §3.1): read, not
 * verified (the broker signed it, the service verifies it); this only keeps an unbound token from being
 * sent and audited as bound. An opaque token cannot be read here and is left to the service.
 */
function boundToCertificate(token: string, thumbprint: string): boolean {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    return true;
  }
  const cnf = claims.cnf as Record<string, unknown> | undefined;
  return typeof cnf === 'object' && cnf !== null && cnf['x5t#S256'] === thumbprint;
}

/** Sorted, deduplicated, without empty entries: the order scopes are listed in does not matter. */
function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes.filter((scope) => scope !== ''))].sort();
}

/**
 * Resolves a tool-supplied path against the service URL, refusing anything that would leave the
 * service: another origin, credentials in the URL, a path outside the service's path prefix (after
 * `..` and `%2e%2e` are resolved), or an encoded slash or backslash a server might decode into one.
 */
function resolveInside(target: IndexedService, path: unknown): URL {
  const refuse = () =>
    new DownstreamError(
      'ERR_DOWNSTREAM_PATH_REFUSED',
      `the path is outside downstream service ${target.name}; use a path relative to its URL`,
    );
  if (typeof path !== 'string') throw refuse();
  const base = new URL(target.url.endsWith('/') ? target.url : `${target.url}/`);
  // Encoded separators survive URL resolution but not every server's routing.
  if (/%(2f|5c)/i.test(path) || escapesOnNormalisingServers(path.split(/[?#]/, 1)[0]!)) throw refuse();
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    throw refuse();
  }
  if (
    url.origin !== base.origin ||
    url.protocol !== base.protocol ||
    url.host !== base.host ||
    url.username !== '' ||
    url.password !== '' ||
    !url.pathname.startsWith(base.pathname)
  ) {
    throw refuse();
  }
  return url;
}

/**
 * Path forms that URL resolution keeps but some servers turn into a step out of the prefix: a segment
 * that is `.` or `..` once its `;parameters` are stripped (`..;/admin`, servlet containers), and a
 * double-encoded dot, slash or backslash (`%252e%252e/admin`, servers that decode twice).
 */
function escapesOnNormalisingServers(path: string): boolean {
  if (/%25(2e|2f|5c)/i.test(path)) return true;
  return path.split(/[/\\]/).some((segment) => {
    if (!segment.includes(';')) return false;
    const stripped = segment.slice(0, segment.indexOf(';')).replace(/%2e/gi, '.');
    return stripped === '.' || stripped === '..';
  });
}

/** What a token is bound to, as part of a cache key: the DPoP key's and the certificate's thumbprints. */
function bindingKey(binding: Binding): [string | null, string | null] {
  return [binding.dpop?.key.thumbprint ?? null, binding.tls?.thumbprint ?? null];
}

/** How token requests for a service reach the broker: proving its DPoP key, over its client certificate. */
function brokerTransport(binding: Binding): TokenRequestOptions {
  return {
    ...(binding.dpop ? { dpop: binding.dpop.key } : {}),
    ...(binding.tls ? { fetch: fetchOver(binding.tls.dispatcher) } : {}),
  };
}

/** The global fetch, over connections of `dispatcher` (one that presents a client certificate). */
function fetchOver(dispatcher: FetchDispatcher): typeof fetch {
  // Node's fetch reads `dispatcher` (undici); the DOM `RequestInit` type does not name it.
  return (input, init) => fetch(input, { ...init, dispatcher } as RequestInit);
}

/**
 * Sends a request with the service's token as the service declared: `Authorization: DPoP` with a fresh
 * proof for this very request (and the server's nonce, RFC 9449 §7, §9), or `Bearer`; over a connection
 * presenting the client certificate when one is declared (RFC 8705).
 */
function sendWithToken(
  binding: Binding,
  token: string,
  url: URL,
  init: RequestInit & { headers: Headers },
): Promise<Response> {
  const send = binding.tls ? fetchOver(binding.tls.dispatcher) : fetch;
  if (binding.dpop) return dpopFetch(url, init, { key: binding.dpop.key, accessToken: token, fetch: send });
  init.headers.set('authorization', `Bearer ${token}`);
  return send(url, init);
}

/** The `RequestInit` fields a tool may set on a downstream call. */
function requestOptions(init: RequestInit): RequestInit {
  const options: RequestInit & { duplex?: 'half' } = {};
  if (init.method !== undefined) options.method = init.method;
  if (init.body !== undefined) options.body = init.body;
  if (init.signal !== undefined) options.signal = init.signal;
  // A stream body needs it; it changes nothing else.
  if ((init as { duplex?: 'half' }).duplex === 'half') options.duplex = 'half';
  return options;
}

/**
 * A fetch that adds the token (and its proof, for a DPoP service) to requests for the service's own URL
 * and refuses any other: whoever holds the MCP client (the tool) can reach its transport's fetch, but not
 * the token, and cannot point the token anywhere else. Redirects are never followed.
 */
function credentialFetchFor(target: IndexedService, token: string, active: () => boolean): typeof fetch {
  const base = new URL(target.url);
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  return async (input, init) => {
    if (!active()) {
      throw new DownstreamError('ERR_DOWNSTREAM_INVOCATION_ENDED', 'the tool invocation has ended');
    }
    const url = new URL(input instanceof Request ? input.url : input);
    const inside = url.pathname === base.pathname || url.pathname.startsWith(basePath);
    if (
      url.origin !== base.origin ||
      !inside ||
      /%2f|%5c/i.test(url.pathname) ||
      escapesOnNormalisingServers(url.pathname)
    ) {
      throw new DownstreamError(
        'ERR_DOWNSTREAM_PATH_REFUSED',
        'the MCP transport may only reach its own service',
      );
    }
    const headers = new Headers(init?.headers);
    for (const name of ['authorization', 'dpop']) headers.delete(name);
    return sendWithToken(target.binding, token, url, {
      ...requestOptions(init ?? {}),
      headers,
      redirect: 'manual',
    });
  };
}
