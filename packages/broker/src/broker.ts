import type { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditSink } from '@baton/audit';
import { TOKEN_EXCHANGE_GRANT } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { type CallerKindRule, defaultCallerKind, discoverAuthorizationServer } from '@baton/resource-server';
import { drainServer, type Registry } from '@baton/resource-server/operations';
import type { SharedSignalsTransmitter } from '@baton/shared-signals';
import { createLocalJWKSet } from 'jose';
import type { AdapterFactory, ClientMetadata, JWK, KoaContextWithOIDC } from 'oidc-provider';
import Provider from 'oidc-provider';
import type { AudienceConfig } from './audience.ts';
import { brokerConfiguration, type ClientIdMetadataDocumentOptions } from './configuration.ts';
import { adminAuthentication } from './endpoints/admin-authentication.ts';
import { ADMIN_REVOCATIONS_PATH, adminRevocations } from './endpoints/admin-revocations.ts';
import { clientAuthenticationErrors } from './endpoints/client-authentication.ts';
import { fetchEndpointMiddleware } from './endpoints/fetch-endpoint.ts';
import { introspectionExtension } from './endpoints/introspection.ts';
import { revocationExtension } from './endpoints/revocation.ts';
import { auditGrantTypeRefusal, type BrokerLogger, SILENT_LOGGER } from './grants/audited-grant.ts';
import type { IdentityAssertionGrantOptions, IdentityChainingOptions } from './jwt-bearer/options.ts';
import { jwtBearerSetup } from './jwt-bearer/setup.ts';
import { type BrokerOperationsOptions, brokerOperations } from './operations/broker-operations.ts';
import { checkBrokerOptions } from './options-schema.ts';
import { FetchAllowList } from './outbound-fetch.ts';
import type { PolicyEngine } from './policy/facts.ts';
import { ApprovalExceeded, type RegistrationApproval, UnapprovedMetadata } from './registration/approvals.ts';
import { MemoryTokenRegistry } from './registry/memory-registry.ts';
import type { LiftTarget, RevocationTarget, TokenRegistry } from './registry/token-registry.ts';
import {
  type BrokerRevocationListener,
  OperatorRevocation,
  type RevocationActor,
  type RevokeResult,
} from './revocation/operator-revocation.ts';
import { type BrokerScimOptions, mountScim, scimAudience } from './scim/broker-scim.ts';
import { type BrokerDpopOptions, dpopConfiguration } from './sender-constraint/features.ts';
import {
  type BrokerTlsOptions,
  brokerServer,
  clientCertificateMode,
} from './sender-constraint/tls-listener.ts';
import {
  CLIENT_CREDENTIALS_DUPLICATES,
  CLIENT_CREDENTIALS_PARAMETERS,
  serviceIdentityHandler,
} from './service-identity/grant.ts';
import {
  appliedSecurityEvents,
  type IdentityProviderSignalsOptions,
  identityProviderSignalsEndpoint,
} from './shared-signals/identity-provider-signals.ts';
import { sharedSignalsAudience } from './shared-signals/receiver-token.ts';
import { sharedSignalsEndpoint } from './shared-signals/routes.ts';
import { type BrokerSharedSignalsOptions, brokerTransmitter } from './shared-signals/transmitter.ts';
import { generateSigningJwk } from './signing-keys.ts';
import { createMemoryAdapterFactory } from './stores/memory-adapter.ts';
import { BrokerTelemetry } from './telemetry.ts';
import { type ExchangeRateLimits, exchangeRateLimiters } from './token-exchange/checks/rate-limit.ts';
import {
  TOKEN_EXCHANGE_DUPLICATES,
  TOKEN_EXCHANGE_PARAMETERS,
  tokenExchangeHandler,
} from './token-exchange/grant.ts';
import { InputTokenVerifier, type TrustedIssuer } from './token-exchange/input-token.ts';

export interface BrokerOptions {
  /**
   * The public issuer identifier (what clients and resource servers see, e.g. the load balancer URL).
   * Every instance of one deployment uses the same. Default: this instance's own URL.
   */
  issuer?: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Identity providers whose access tokens may be exchanged (found through their metadata). */
  trustedIssuers: readonly TrustedIssuer[];
  /** Resources the broker issues tokens for, with the scopes each understands. */
  audiences: readonly AudienceConfig[];
  /**
   * Declared policy (see `createCedarPolicyEngine`): it decides every token the broker issues, token
   * exchanges and service-identity (`client_credentials`) tokens alike.
   */
  policy: PolicyEngine;
  audit: AuditSink;
  /**
   * Statically registered clients (operator-approved services): everything they declare is approved,
   * `client_credentials` and its `scope`, `baton_resources`, `baton_trace_trusted`.
   */
  clients?: ClientMetadata[];
  /**
   * RFC 7591 §3 initial access token required to register. A client registered with it is approved for
   * nothing: token exchange only, no `client_credentials`, no `baton_resources`, no `scope`.
   */
  initialAccessToken?: string;
  /**
   * Initial access tokens that each carry an operator's approval of what their registrations may
   * declare. Checked again, as configured now, whenever a client registered under one is loaded: a
   * client that declares more than its (narrowed, removed or never recorded) approval allows cannot
   * authenticate (401 `invalid_client`).
   */
  registrationApprovals?: readonly RegistrationApproval[];
  /** Demo only: let anyone register (approved for nothing). Must be set explicitly when no initial access token is configured. */
  allowAnonymousRegistration?: boolean;
  /**
   * The broker's ES256 private signing keys (JWKs with `kid`): the first signs, all verify. Default: one
   * generated at start. See `loadSigningKeys` / `rotateSigningKeys` for keys kept across restarts.
   */
  signingKeys?: JWK[];
  /** Issued-token records and revocations. Default: in memory, forgotten on restart (see `openStores`). */
  registry?: TokenRegistry;
  /** oidc-provider storage (clients, replay records, …). Default: in memory, forgotten on restart. */
  adapter?: AdapterFactory;
  /** Longest lifetime of any exchanged token, seconds. Default 300. */
  maxLifetimeSeconds?: number;
  /**
   * Rate limits (issue #12 item 6) on token exchanges, per client and per subject, in memory or in Redis
   * shared by the instances: over a limit, HTTP 429 with `Retry-After` and `error: "slow_down"`.
   */
  rateLimits?: ExchangeRateLimits;
  /** Accept clients identified by Client ID Metadata Documents from these hosts. Off by default. */
  clientIdMetadataDocuments?: ClientIdMetadataDocumentOptions;
  /**
   * The only hosts the broker fetches from: a client's `jwks_uri` or `sector_identifier_uri`, and
   * (with `clientIdMetadataDocuments.allowedHosts`, which are added) metadata documents. A client
   * naming a URL on any other host is refused (`invalid_client_metadata`) and never fetched.
   * Default: none.
   */
  fetchAllowedHosts?: readonly string[];
  /**
   * The fetch the broker uses once the allow-list admits a URL. Default: oidc-provider's, which also
   * refuses connections to loopback and private addresses. Tests on loopback pass their own.
   */
  fetch?: typeof fetch;
  /**
   * Tells a subject token with a person behind it from a machine's. Default `defaultCallerKind`
   * (`sub` equal to `client_id` means no person), the rule the MCP boundary uses. A person-less subject
   * is refused for on-behalf-of, restricted-user and Transaction Tokens unless policy explicitly
   * allows it (`context.subject_type == "service"` with `context.mode` pinned to the mode).
   */
  callerKind?: CallerKindRule;
  /** Where refusal detail and failures are logged (never returned to the client). Default: nowhere. */
  logger?: BrokerLogger;
  /** Issue Execution Identity Envelopes as Transaction Tokens for this trust domain. */
  transactionTokens?: { trustDomain: string };
  onError?: (error: unknown) => void;
  /** `/healthz`, `/readyz`, `/metrics` and the shutdown deadline (see `BrokerOperationsOptions`). */
  operations?: BrokerOperationsOptions;
  /** A SCIM 2.0 service at `<issuer>/scim/v2` for operator-approved provisioning clients. Off by default. */
  scim?: BrokerScimOptions;
  /**
   * Transmit revocations as an OpenID Shared Signals Framework 1.0 transmitter (push RFC 8935, poll
   * RFC 8936) at `/.well-known/ssf-configuration` and `/ssf/…`. Receivers are static clients holding a
   * `client_credentials` token for the audience `<issuer>/ssf` (see `BrokerSharedSignalsOptions`).
   */
  sharedSignals?: BrokerSharedSignalsOptions;
  /**
   * Static clients (ids among `clients`, each with inline `jwks` or a `client_secret`) that may call
   * the revocation admin API (`/admin/revocations`) with a client assertion (see
   * `adminAuthentication`). A registered client can never be one. Default: none (every call 403/401).
   */
  adminClients?: readonly string[];
  /**
   * Receive the identity providers' Security Event Tokens (RFC 8935 push to `<issuer>/ssf/receiver`):
   * CAEP `session-revoked`, RISC `account-disabled`/`account-enabled`, … become broker revocations,
   * audited and transmitted to every receiver. Each issuer must be among `trustedIssuers`.
   */
  identityProviderSignals?: IdentityProviderSignalsOptions;
  // --- Sender-constrained tokens (issue #14): HTTPS, mutual TLS, DPoP ---
  /**
   * Serve HTTPS, and with `clientCa` accept client certificates: RFC 8705 `tls_client_auth` /
   * `self_signed_tls_client_auth` and certificate-bound tokens (`cnf.x5t#S256`). Default: plain HTTP
   * (behind a TLS-terminating proxy no client certificate reaches the broker, so no mutual TLS).
   */
  tls?: BrokerTlsOptions;
  /**
   * DPoP (RFC 9449) at the token endpoint is always accepted: a proof binds the issued token to its key
   * (`cnf.jkt`, `token_type: DPoP`). With `nonceSecret` (32 bytes, base64url; the same at every
   * instance) the broker hands out server nonces (`DPoP-Nonce`); `requireNonce` demands one in every proof.
   */
  dpop?: BrokerDpopOptions;
  // --- end sender-constrained tokens ---
  /**
   * Enterprise-managed authorization: redeem Identity Assertion JWT Authorization Grants (ID-JAG,
   * `draft-ietf-oauth-identity-assertion-authz-grant`) from these identity providers with the RFC 7523
   * jwt-bearer grant, under the same policy and audit as an exchange. Off by default.
   */
  identityAssertionGrants?: IdentityAssertionGrantOptions;
  /**
   * Cross-domain hops (`draft-ietf-oauth-identity-chaining`): JWT authorization grants issued for
   * foreign authorization servers, and redeemed from trusted home brokers. Off by default.
   */
  identityChaining?: IdentityChainingOptions;
}

export interface Broker {
  issuer: string;
  /** Where this instance listens (differs from `issuer` behind a load balancer). */
  url: URL;
  registry: TokenRegistry;
  /**
   * Revokes a token, a whole grant (root), a subject (before an instant, or disabled), an identity-
   * provider session or a client; audited with `by`, handed to `onRevocation` listeners.
   *
   * @example
   * const { covered, revocations } = await broker.revoke({ subject: 'bob' }, { actor: 'ops', reason: 'offboarded' });
   */
  revoke(target: RevocationTarget, by: RevocationActor): Promise<RevokeResult>;
  /** Re-enables a disabled subject or a revoked client; true when a revocation was in force. */
  lift(target: LiftTarget, by: RevocationActor): Promise<boolean>;
  /**
   * Calls `listener` after every revocation and lift at this instance (operator, admin API, RFC 7009),
   * with the entries receivers must add or lift: what the Shared Signals transmitter sends.
   */
  onRevocation(listener: BrokerRevocationListener): () => void;
  /** The Shared Signals transmitter (with `sharedSignals`): every revocation at this instance is published on it. */
  transmitter: SharedSignalsTransmitter | undefined;
  /** This instance's Prometheus registry (what `/metrics` serves); undefined with `operations.metrics: false`. */
  metrics: Registry | undefined;
  /**
   * Stops accepting, lets requests in flight finish (up to `operations.shutdownDeadlineMs`, default
   * 10 s, then cuts them), and closes the registry it made.
   */
  close(): Promise<void>;
}

/**
 * Starts the token broker: an OAuth authorization server (oidc-provider) for services and agents,
 * with RFC 8693 token exchange, declared policy and cascading revocation.
 *
 * @example
 * const broker = await startBroker({ trustedIssuers: [{ issuer: idp }], audiences, policy, audit,
 *   initialAccessToken: process.env.BATON_REGISTRATION_TOKEN });
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  if (!options?.policy) throw new TypeError('startBroker: policy is required');
  if (!options.audit) throw new TypeError('startBroker: audit is required');
  // The configuration file's rules (issuer URLs, audiences, token lengths, lifetimes, keys, hosts).
  checkBrokerOptions(options);
  if (
    !options.initialAccessToken &&
    !options.registrationApprovals?.length &&
    options.allowAnonymousRegistration !== true
  ) {
    throw new TypeError(
      'startBroker: registration needs an initialAccessToken; set allowAnonymousRegistration: true only for a demo',
    );
  }
  const maxLifetimeSeconds = options.maxLifetimeSeconds ?? 300;
  const host = options.host ?? '127.0.0.1';
  // Sender-constrained tokens: the listener (HTTPS with client certificates when configured).
  const clientCertificates = clientCertificateMode(options.tls);
  const dpop = dpopConfiguration(options.dpop);
  const server: Server = brokerServer(options.tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  const url = new URL(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`);
  const issuer = options.issuer ?? url.origin;

  // The issuer (this instance's URL unless configured) is known only once the socket is bound, so
  // setup runs after listening; if any of it throws (a bad signing key, a bad configuration), the
  // socket is released before the error propagates rather than left bound with nothing serving it.
  const registry = options.registry ?? new MemoryTokenRegistry();
  const adapter = options.adapter ?? createMemoryAdapterFactory();
  let operations: ReturnType<typeof brokerOperations> | undefined;
  let transmitter: SharedSignalsTransmitter | undefined;
  let revocation: OperatorRevocation | undefined;
  try {
    const signingKeys = options.signingKeys?.length ? options.signingKeys : [await generateSigningJwk()];
    const signingJwk = signingKeys[0]!;
    const publicJwks = {
      keys: signingKeys.map(({ d: _private, ...publicJwk }) => publicJwk as Record<string, unknown>),
    };
    const localKeys = createLocalJWKSet(publicJwks as never);
    const logger = options.logger ?? SILENT_LOGGER;
    operations = brokerOperations(options.operations, signingKeys);
    // Shared Signals receivers and SCIM clients get their access token for the broker's own endpoint
    // (<issuer>/ssf, <issuer>/scim/v2) by client_credentials.
    const serviceAudiences = [
      ...options.audiences,
      ...(options.sharedSignals ? [{ resource: sharedSignalsAudience(issuer), scopes: [] }] : []),
      ...(options.scim ? [{ resource: scimAudience(issuer), scopes: [] }] : []),
    ];
    const provider = new Provider(
      issuer,
      brokerConfiguration({
        adapter,
        clients: options.clients ?? [],
        signingKeys,
        audiences: serviceAudiences,
        initialAccessToken: options.initialAccessToken,
        registrationApprovals: options.registrationApprovals ?? [],
        fetchAllowList: new FetchAllowList([
          ...(options.fetchAllowedHosts ?? []),
          ...(options.clientIdMetadataDocuments?.allowedHosts ?? []),
        ]),
        fetch: options.fetch,
        maxLifetimeSeconds,
        clientIdMetadataDocuments: options.clientIdMetadataDocuments,
        senderConstraint: { dpop, clientCertificates },
      }),
    );
    const onError = options.onError ?? (() => {});
    provider.on('server_error', (_ctx, error) => onError(error));
    (provider as EventEmitter).on('error', (error: unknown) => onError(error));
    for (const event of ['registration_create.error', 'registration_update.error'] as const) {
      (provider as EventEmitter).on(
        event,
        (_ctx: unknown, error: { reason?: string; error?: string; error_detail?: string }) =>
          logger.warn(
            {
              reason: error.reason ?? error.error,
              ...(error.error_detail ? { detail: error.error_detail } : {}),
            },
            'registration refused',
          ),
      );
    }
    // A client refused at a token, introspection or revocation request for metadata it may not have
    // (a metadata document beyond its approval, a URL off the fetch allow-list, a registered client
    // beyond what its approval allows now).
    for (const event of ['grant.error', 'introspection.error', 'revocation.error'] as const) {
      (provider as EventEmitter).on(event, (_ctx: unknown, error: unknown) => {
        if (error instanceof UnapprovedMetadata || error instanceof ApprovalExceeded) {
          logger.warn({ reason: error.reason, detail: error.error_detail }, 'client metadata refused');
        }
      });
    }
    // First, so that it is outermost: every traced request's span ends with the broker's final answer.
    const telemetry = new BrokerTelemetry();
    provider.use(telemetry.middleware());
    if (operations.metrics) provider.use(operations.metrics.middleware());
    if (options.sharedSignals) {
      transmitter = await brokerTransmitter({
        issuer,
        signingJwk,
        keys: localKeys,
        registry,
        clients: options.clients ?? [],
        // A new stream starts with every revocation in force (set once the revocation path exists below).
        options: {
          currentRevocations: () => revocation?.inForce() ?? Promise.resolve([]),
          subjectIssuer: options.trustedIssuers[0]?.issuer ?? issuer,
          ...options.sharedSignals,
        },
        onError: options.onError ?? (() => {}),
      });
      provider.use(fetchEndpointMiddleware(sharedSignalsEndpoint(transmitter), issuer));
    }
    const audited = { issuer, audit: telemetry.auditing(operations.audit(options.audit)), logger };
    provider.use(
      clientAuthenticationErrors({
        issuer,
        logger,
        onGrantTypeRefused: (ctx: KoaContextWithOIDC, grantType: string) =>
          grantType === 'client_credentials'
            ? auditGrantTypeRefusal(audited, ctx, 'service_identity', 'client_credentials_not_approved')
            : auditGrantTypeRefusal(audited, ctx, 'on_behalf_of', 'grant_type_not_allowed'),
      }),
    );
    provider.use(introspectionExtension({ issuer, keys: localKeys, registry }));
    // Every revocation (RFC 7009, the admin API, `broker.revoke`) takes one path: registry, audit, listeners.
    revocation = new OperatorRevocation({ registry, audit: audited.audit, issuer, maxLifetimeSeconds });
    provider.use(revocationExtension({ issuer, keys: localKeys, revocation }));
    provider.use(
      adminRevocations({
        issuer,
        revocation,
        registry,
        authenticate: adminAuthentication({
          audience: `${issuer.replace(/\/$/, '')}${ADMIN_REVOCATIONS_PATH}`,
          clients: options.clients ?? [],
          admins: options.adminClients ?? [],
          unique: (iss, jti, exp) => provider.ReplayDetection.unique(iss, jti, exp),
        }),
      }),
    );
    if (options.scim) {
      mountScim(provider, options.scim, {
        issuer,
        revocation,
        keys: localKeys,
        registry,
        staticClients: (options.clients ?? []).map((client) => String(client.client_id)),
        onError,
      });
    }
    if (options.identityProviderSignals) {
      // A home broker's stream (identity chaining) is received too: its revocations of the grants it
      // issued end what this broker issued from them, its other identifiers qualified as visitors'.
      const homeDomains = options.identityChaining?.homeDomains ?? [];
      for (const { issuer: idp } of options.identityProviderSignals.issuers ?? []) {
        if (
          !options.trustedIssuers.some((trusted) => trusted.issuer === idp) &&
          !homeDomains.some((home) => home.issuer === idp)
        )
          throw new TypeError(
            `startBroker: identityProviderSignals: ${idp} is neither a trusted issuer nor a home domain`,
          );
      }
      const receiving = revocation;
      provider.use(
        fetchEndpointMiddleware(
          identityProviderSignalsEndpoint({
            audience: issuer,
            options: options.identityProviderSignals,
            homeDomains,
            // In the broker's store (shared by every instance), a model of its own: a SET is applied once.
            applied: appliedSecurityEvents(adapter('SecurityEventToken')),
            onLiftNotApplied: (lift) =>
              logger.warn(
                lift,
                'identity provider account-enabled taken, not applied: lifting is the operator’s',
              ),
            revoke: (target, by) => receiving.revoke(target, by),
            lift: (target, by) => receiving.lift(target, by),
            jwksUriOf: async (idp) => {
              const jwksUri = (await discoverAuthorizationServer(idp)).jwks_uri;
              if (!jwksUri) throw new Error(`${idp} publishes no jwks_uri`);
              return jwksUri;
            },
            onRefused: (refusal) => logger.warn(refusal, 'security event token refused'),
            onError,
          }),
          issuer,
        ),
      );
    }
    if (transmitter) {
      // Every revocation and lift at this instance reaches every receiver: `revoke` resolves once the
      // SETs are queued on every stream (a failure rejects it, so the caller revokes again).
      const sending = transmitter;
      revocation.onRevocation((change) =>
        sending.publish(change.added, {
          at: change.at,
          lifted: change.lifted,
          initiatingEntity: change.actor.startsWith('ssf:') ? 'system' : 'admin',
          ...(change.reason ? { reasonAdmin: change.reason } : {}),
        }),
      );
    }

    const envelopes = options.transactionTokens
      ? new EnvelopeIssuer({
          issuer,
          trustDomain: options.transactionTokens.trustDomain,
          // The broker's own key: Transaction Tokens verify against the JWKS the broker already publishes.
          keys: EnvelopeKeyRing.fromPrivateJwk(signingJwk as Record<string, unknown>, {
            retentionSeconds: Math.max(900, maxLifetimeSeconds),
          }),
          ttlSeconds: Math.min(300, maxLifetimeSeconds),
        })
      : undefined;
    // ID-JAG and cross-domain hops (RFC 7523 jwt-bearer): foreign domains are exchange audiences.
    const jwtBearer = jwtBearerSetup(options, { issuer, signingJwk, registry });
    // Built once: token exchange and jwt-bearer spend one budget per client and per person.
    const limiters = exchangeRateLimiters(options.rateLimits ?? {}, audited.logger);
    // The home domains' issuers: names only this broker gives its visitors, gated as visitors on every hop.
    const homes = (options.identityChaining?.homeDomains ?? []).map((home) => home.issuer);
    provider.registerGrantType(
      TOKEN_EXCHANGE_GRANT,
      tokenExchangeHandler({
        ...audited,
        inputs: new InputTokenVerifier({
          trusted: options.trustedIssuers,
          broker: { issuer, jwks: publicJwks },
          homes,
        }),
        homes,
        audiences: [...options.audiences, ...jwtBearer.foreignAudiences],
        policy: options.policy,
        registry,
        callerKind: options.callerKind ?? defaultCallerKind,
        ...(envelopes ? { envelopes } : {}),
        maxLifetimeSeconds,
        limiters,
      }) as never,
      TOKEN_EXCHANGE_PARAMETERS,
      TOKEN_EXCHANGE_DUPLICATES,
    );
    // Replaces oidc-provider's own client_credentials handler: service identity is decided by policy,
    // audited and recorded like an exchange.
    provider.registerGrantType(
      'client_credentials',
      serviceIdentityHandler({
        ...audited,
        audiences: serviceAudiences,
        policy: options.policy,
        registry,
        maxLifetimeSeconds,
      }) as never,
      CLIENT_CREDENTIALS_PARAMETERS,
      CLIENT_CREDENTIALS_DUPLICATES,
    );
    jwtBearer.register(provider, {
      ...audited,
      policy: options.policy,
      callerKind: options.callerKind ?? defaultCallerKind,
      maxLifetimeSeconds,
      limiters,
    });
    // Static clients are checked now (every grant type registered), not at their first request: a client the operator listed with a
    // URL off the fetch allow-list (or any other invalid metadata) stops the broker from starting.
    for (const client of options.clients ?? []) {
      try {
        await provider.Client.find(String(client.client_id));
      } catch (error) {
        const described = error as { error_description?: string; message?: string };
        throw new TypeError(
          `startBroker: static client ${String(client.client_id)}: ${described.error_description ?? described.message}`,
        );
      }
    }
    server.on('request', operations.serve(provider.callback()));
  } catch (error) {
    await transmitter?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // A registry the broker made for itself goes too; one the caller passed stays theirs to close.
    if (!options.registry) await registry.close().catch(() => {});
    throw error;
  }

  return {
    issuer,
    url,
    registry,
    revoke: (target, by) => revocation!.revoke(target, by),
    lift: (target, by) => revocation!.lift(target, by),
    onRevocation: (listener) => revocation!.onRevocation(listener),
    transmitter,
    metrics: operations?.registry,
    async close() {
      // Waiting long polls answer now, so draining does not wait for them.
      await transmitter?.close();
      await drainServer(server, { deadlineMs: operations?.shutdownDeadlineMs });
      await registry.close();
    },
  };
}
