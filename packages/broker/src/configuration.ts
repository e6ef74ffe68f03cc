import { randomBytes } from 'node:crypto';
import { TOKEN_EXCHANGE_GRANT } from '@baton/broker-client';
import type { AdapterFactory, ClientMetadata, Configuration, JWK } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { type AudienceConfig, audienceFor } from './audience.ts';
import { FetchAllowList, guardedFetch } from './outbound-fetch.ts';
import {
  assertWithinApproval,
  type ClientApproval,
  initialAccessTokenAdapter,
  type RegistrationApproval,
  registrationPolicies,
} from './registration/approvals.ts';
import { BATON_CLIENT_METADATA, clientMetadataValidator } from './registration/client-metadata.ts';
import {
  type SenderConstraintConfiguration,
  senderConstraintFeatures,
} from './sender-constraint/features.ts';

export interface BrokerConfigurationInput {
  adapter: AdapterFactory;
  clients: ClientMetadata[];
  /** First signs; all are published. */
  signingKeys: JWK[];
  audiences: readonly AudienceConfig[];
  /** RFC 7591 §3: registration needs this initial access token (no approvals). */
  initialAccessToken: string | undefined;
  /** Initial access tokens that carry an approval. With neither, registration is anonymous (demo only). */
  registrationApprovals: readonly RegistrationApproval[];
  /** Every host the broker may fetch from (CIMD hosts included). */
  fetchAllowList: FetchAllowList;
  /** Replaces the fetch the broker uses (after the allow-list check); tests on loopback pass one. */
  fetch: typeof fetch | undefined;
  maxLifetimeSeconds: number;
  clientIdMetadataDocuments: ClientIdMetadataDocumentOptions | undefined;
  /** DPoP and mutual TLS at the token endpoint (see `sender-constraint/features.ts`). */
  senderConstraint: SenderConstraintConfiguration;
}

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as oidc-provider's
 * `draft-02` implements it): a client whose `client_id` is an https URL is described by the JSON
 * document at that URL. The broker fetches only from hosts the operator lists (SSRF), and never lets
 * such a client use a shared secret.
 */
export interface ClientIdMetadataDocumentOptions {
  /**
   * Hostnames whose documents identify clients. Required: an open list would let anyone make the
   * broker fetch anything. They are added to the broker's `fetchAllowedHosts`.
   */
  allowedHosts: readonly string[];
  /**
   * What each document client, by client id, may declare about itself (`baton_resources`,
   * `client_credentials`, `scope`, `baton_trace_trusted`): a document is written by whoever runs its
   * host, so it is self-declared like a registration. Default: nothing.
   */
  approvals?: Readonly<Record<string, ClientApproval>>;
}

/**
 * The oidc-provider configuration of the broker: an authorization server for services and agents
 * (no end-user login here — people sign in at the identity provider). oidc-provider supplies metadata,
 * JWKS, registration, client authentication, introspection and revocation; Baton adds the exchange,
 * its own client_credentials (service identity), approvals and the fetch allow-list.
 */
export function brokerConfiguration(input: BrokerConfigurationInput): Configuration {
  const metadataDocumentHosts = input.clientIdMetadataDocuments
    ? new FetchAllowList(input.clientIdMetadataDocuments.allowedHosts)
    : undefined;
  const withTokens = input.initialAccessToken !== undefined || input.registrationApprovals.length > 0;
  const sender = senderConstraintFeatures(input.senderConstraint);
  const initialAccessTokens = withTokens
    ? initialAccessTokenAdapter(input.initialAccessToken, input.registrationApprovals)
    : undefined;
  return {
    adapter: (model: string) =>
      model === 'InitialAccessToken' && initialAccessTokens ? initialAccessTokens : input.adapter(model),
    clients: input.clients,
    jwks: { keys: input.signingKeys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clientAuthMethods: [
      'private_key_jwt',
      'client_secret_basic',
      'client_secret_post',
      // RFC 8705 §2: only when the broker serves HTTPS and asks for client certificates.
      ...sender.clientAuthMethods,
    ],
    // Services authenticate with signed assertions by default (no shared secret to leak).
    clientDefaults: {
      grant_types: [TOKEN_EXCHANGE_GRANT],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      id_token_signed_response_alg: 'ES256',
    },
    responseTypes: ['none'],
    scopes: [...new Set(input.audiences.flatMap((audience) => audience.scopes))],
    extraClientMetadata: {
      properties: BATON_CLIENT_METADATA,
      validator: clientMetadataValidator(input.fetchAllowList, {
        approvals: input.registrationApprovals,
        staticClientIds: new Set(input.clients.map((client) => String(client.client_id))),
        metadataDocuments: input.clientIdMetadataDocuments !== undefined,
      }) as never,
    },
    // The exchange puts its claims (`act`, `tenant`, `sid`) on the token model's own `extra`;
    // oidc-provider replaces `extra` with what this returns when it signs the token.
    extraTokenClaims: (_ctx, token) => (token as { extra?: Record<string, unknown> }).extra,
    async findAccount(_ctx, sub) {
      // Subjects come from validated subject tokens; the broker has no user store of its own.
      return { accountId: sub, claims: () => ({ sub }) };
    },
    fetch: guardedFetch(input.fetchAllowList, input.fetch),
    features: {
      devInteractions: { enabled: false },
      dPoP: sender.dPoP,
      mTLS: sender.mTLS,
      ...(input.clientIdMetadataDocuments
        ? {
            clientIdMetadataDocument: {
              enabled: true,
              ack: 'draft-02',
              // The same host matching (case, brackets, scheme) as every other fetch the broker makes.
              allowFetch: (_ctx: unknown, clientId: string) => metadataDocumentHosts!.allows(clientId),
              allowClient: (
                _ctx: unknown,
                client: { clientId: string; metadata(): Record<string, unknown> },
              ) => {
                assertWithinApproval(
                  client.metadata(),
                  input.clientIdMetadataDocuments!.approvals?.[client.clientId],
                );
                return true;
              },
            },
          }
        : {}),
      registration: {
        enabled: true,
        // Configured tokens are InitialAccessToken models, each carrying a registration policy that
        // bounds what a client registered with it may declare (see `registration/approvals.ts`).
        ...(withTokens
          ? {
              initialAccessToken: true,
              policies: registrationPolicies(input.registrationApprovals) as never,
            }
          : {}),
        issueRegistrationAccessToken: true,
      },
      registrationManagement: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, indicator) => {
          const audience = audienceFor(input.audiences, indicator);
          if (!audience) throw new errors.InvalidTarget();
          return {
            audience: audience.resource,
            scope: audience.scopes.join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: input.maxLifetimeSeconds,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? input.maxLifetimeSeconds,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? input.maxLifetimeSeconds,
      Grant: 3600,
      Interaction: 600,
      Session: 3600,
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}
