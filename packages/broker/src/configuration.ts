import { randomBytes } from 'node:crypto';
import { TOKEN_EXCHANGE_GRANT } from '@baton/broker-client';
import type { AdapterFactory, ClientMetadata, Configuration, JWK } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { AudienceConfig } from './token-exchange/grant.ts';

export interface BrokerConfigurationInput {
  adapter: AdapterFactory;
  clients: ClientMetadata[];
  /** First signs; all are published. */
  signingKeys: JWK[];
  audiences: readonly AudienceConfig[];
  /** RFC 7591 §3: registration needs this initial access token; `undefined` = anonymous (demo only). */
  initialAccessToken: string | undefined;
  pendingClaims: WeakMap<object, Record<string, unknown>>;
  maxLifetimeSeconds: number;
  clientIdMetadataDocuments: ClientIdMetadataDocumentOptions | undefined;
}

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as oidc-provider's
 * `draft-02` implements it): a client whose `client_id` is an https URL is described by the JSON
 * document at that URL. The broker fetches only from hosts the operator lists (SSRF), and never lets
 * such a client use a shared secret.
 */
export interface ClientIdMetadataDocumentOptions {
  /** Hostnames whose documents may be fetched. Required: an open list would let anyone make the broker fetch anything. */
  allowedHosts: readonly string[];
  /**
   * The fetch used for documents. Default: oidc-provider's, which refuses loopback and private
   * addresses. Tests on loopback pass their own.
   */
  fetch?: typeof fetch;
}

/**
 * The oidc-provider configuration of the broker: an authorization server for services and agents
 * (no end-user login here — people sign in at the identity provider). oidc-provider supplies metadata,
 * JWKS, registration, client authentication, introspection and revocation; Baton adds the exchange.
 */
export function brokerConfiguration(input: BrokerConfigurationInput): Configuration {
  return {
    adapter: input.adapter,
    clients: input.clients,
    jwks: { keys: input.signingKeys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
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
      // The resource URIs a registered service serves: a subject token is exchangeable by the client
      // only if one of these is in its audience (no token laundering).
      properties: ['baton_resources'],
      validator(_ctx, key, value) {
        if (key !== 'baton_resources' || value === undefined) return;
        if (
          !Array.isArray(value) ||
          value.some((entry) => typeof entry !== 'string' || !URL.canParse(entry))
        ) {
          throw new errors.InvalidClientMetadata('baton_resources must be an array of absolute URIs');
        }
      },
    },
    extraTokenClaims: (_ctx, token) => input.pendingClaims.get(token),
    async findAccount(_ctx, sub) {
      // Subjects come from validated subject tokens; the broker has no user store of its own.
      return { accountId: sub, claims: () => ({ sub }) };
    },
    ...(input.clientIdMetadataDocuments?.fetch
      ? {
          // oidc-provider passes an SSRF-guarding dispatcher; a custom fetch replaces it, so the
          // allowedHosts check below is the guard.
          fetch: (url: string | URL | Request, options?: RequestInit) => {
            const { dispatcher: _guard, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown };
            return input.clientIdMetadataDocuments!.fetch!(url, rest);
          },
        }
      : {}),
    features: {
      devInteractions: { enabled: false },
      ...(input.clientIdMetadataDocuments
        ? {
            clientIdMetadataDocument: {
              enabled: true,
              ack: 'draft-02',
              allowFetch: (_ctx: unknown, clientId: string) =>
                input.clientIdMetadataDocuments!.allowedHosts.includes(new URL(clientId).hostname),
            },
          }
        : {}),
      registration: {
        enabled: true,
        ...(input.initialAccessToken ? { initialAccessToken: input.initialAccessToken } : {}),
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
          const audience = input.audiences.find((candidate) => candidate.resource === indicator);
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
