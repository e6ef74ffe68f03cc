import { randomBytes } from 'node:crypto';
import { createMemoryAdapterFactory } from '@baton/broker/oidc-memory-adapter';
import type { AccessToken, ClientCredentials, ClientMetadata, Configuration, JWK } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ClientIdMetadataDocumentFeature } from './client-id-metadata-documents.ts';
import { errorPage, loggedOutPage, logoutPage } from './html.ts';
import { TOKEN_EXCHANGE_GRANT } from './id-jag.ts';
import { SIGNING_ALG } from './keys.ts';
import {
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  ID_TOKEN_TTL_SECONDS,
  type ResourceServerConfig,
  resourceServerInfo,
} from './resources.ts';
import type { UserDirectory } from './users.ts';

export interface ConfigurationInput {
  resources: readonly ResourceServerConfig[];
  clients: readonly ClientMetadata[];
  users: UserDirectory;
  signingJwk: JWK;
  cookieKeys: string[];
  /** Client ID Metadata Documents accepted, from which hosts; without it clients register (RFC 7591). */
  clientIdMetadataDocuments?: ClientIdMetadataDocumentFeature | undefined;
  /**
   * Whether a client the operator did not configure (registered itself, or a Client ID Metadata
   * Document) may hold the token-exchange grant: with ID-JAGs, one an authorization server's `clients`
   * lists. Default: none may.
   */
  selfDescribedTokenExchange?: ((clientId: string) => boolean) | undefined;
}

/**
 * The oidc-provider configuration of the demo IdP. Every helper oidc-provider marks "you should change
 * this" is set explicitly: partly because the defaults print notices to the console, mostly so that each
 * policy decision is written down here rather than implied.
 */
export function buildConfiguration(input: ConfigurationInput): Configuration {
  const { resources, users } = input;
  // Only statically configured clients (resource servers) may introspect tokens they did not obtain:
  // registration is open, so "any confidential client" would mean "anyone".
  const resourceServerClients = new Set(input.clients.map((client) => client.client_id));
  // What the operator configured, as opposed to what registered itself.
  const operatorClients = new Set(input.clients.map((client) => client.client_id));
  checkMachineClients(input.clients);
  // Client ID Metadata Documents (MCP 2026-07-28's first choice for clients with no prior relationship).
  const metadataDocuments = input.clientIdMetadataDocuments;

  return {
    adapter: createMemoryAdapterFactory(),
    clients: [...input.clients],
    jwks: { keys: [input.signingJwk] },
    cookies: { keys: input.cookieKeys },
    // Everything is signed with the one ES256 key, including ID tokens (oidc-provider defaults to RS256).
    clientDefaults: { id_token_signed_response_alg: SIGNING_ALG },
    // RFC 9207: oidc-provider puts `iss` on every authorization response (errors too) and advertises
    // `authorization_response_iss_parameter_supported`, except a response carrying an ID token, which
    // names its issuer itself: with `code` alone, `iss` is always there for the agent to check.
    responseTypes: ['code'],
    // OAuth 2.1 and the MCP authorization spec require PKCE for every authorization code flow; v9 only
    // supports S256, and by default would exempt confidential clients.
    pkce: { required: () => true },
    // Resource scopes are listed too: MCP clients (the SDK included) register with the scope the resource
    // challenged them for, and oidc-provider refuses client metadata naming a scope it does not list.
    // Granting them stays per resource, through the consent step and getResourceServerInfo.
    scopes: [
      ...new Set([
        'openid',
        'offline_access',
        'profile',
        'email',
        ...resources.flatMap((resource) => resource.scopes),
      ]),
    ],
    // `auth_time` with the `openid` scope: every ID token carries the sign-in time (oidc-provider otherwise
    // adds it only on `max_age`, `prompt=login` or a client's `require_auth_time`, which would also force
    // `openid` on its plain OAuth flows), the original one through refresh token grants too. ID-JAG
    // issuance dates the sign-in by it, since a refreshed ID token's `iat` is new.
    claims: {
      openid: ['sub', 'auth_time'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // A machine client (client_credentials) acts with no person behind it, so only the operator grants
    // it that grant and its scopes: a statically configured client, whose `scope` metadata oidc-provider
    // enforces (a requested scope outside it is `invalid_scope`; the token carries requested ∩ approved
    // ∩ the resource's scopes). Self-registration cannot ask for the grant (registration is open).
    // The token-exchange grant (ID-JAGs, for any person who signs in to the client) likewise, unless the
    // administrator lists the client for an authorization server (`selfDescribedTokenExchange`).
    extraClientMetadata: {
      properties: ['grant_types'],
      validator(_ctx, key, value, metadata) {
        if (key !== 'grant_types' || !Array.isArray(value) || operatorClients.has(metadata.client_id)) return;
        if (value.includes('client_credentials'))
          throw new errors.InvalidClientMetadata(
            'client_credentials is granted by the operator, not at registration',
          );
        if (value.includes(TOKEN_EXCHANGE_GRANT) && !input.selfDescribedTokenExchange?.(metadata.client_id))
          throw new errors.InvalidClientMetadata(
            'token exchange is granted by the operator, not at registration',
          );
      },
    },
    async findAccount(_ctx, sub) {
      const user = users.findBySub(sub);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          name: user.name,
          preferred_username: user.username,
          email: user.email,
          email_verified: true,
        }),
      };
    },
    // RFC 9068 leaves room for deployment claims: resource servers read the caller's organisation and roles
    // from the token instead of calling back. `sid` is the IdP sign-in session (oidc-provider's session
    // uid, not the cookie value): the same for every client the user approved in that sign-in, so calls
    // made by different agents on one person's behalf can be correlated.
    extraTokenClaims(_ctx, token: AccessToken | ClientCredentials) {
      if (!('accountId' in token)) return undefined;
      const user = users.findBySub(token.accountId);
      if (!user) return undefined;
      const sid = token.sessionUid;
      return { tenant: user.tenant, roles: [...user.roles], ...(sid ? { sid } : {}) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ...(metadataDocuments ? { fetch: metadataDocuments.fetch as Configuration['fetch'] } : {}),
    features: {
      devInteractions: { enabled: false },
      // Client ID Metadata Documents: a client whose `client_id` is an https URL on an allowed host is
      // described by the document there (advertised as `client_id_metadata_document_supported`). The
      // registration rules below apply to it as to a registered client (no client_credentials).
      ...(metadataDocuments ? { clientIdMetadataDocument: metadataDocuments.feature } : {}),
      // Open dynamic client registration (RFC 7591) so MCP clients can register themselves: deprecated by
      // MCP 2026-07-28, kept as the fallback for clients without a metadata document. Demo only: a real
      // deployment gates this with initial access tokens or software statements.
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      // DPoP (RFC 9449, issue #14): a token request with a DPoP proof gets a DPoP-bound access token
      // (`token_type: DPoP`, `cnf.jkt` in the JWT); one without stays a bearer token. The nonce secret
      // lets the token endpoint hand out nonces; not requiring them keeps the demo's round trips short.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => false },
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) =>
          token.clientId === client.clientId ||
          (client.clientAuthMethod !== 'none' && resourceServerClients.has(client.clientId)),
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: (_ctx, indicator) => resourceServerInfo(resources, indicator),
        // Never guess an audience: a single candidate is the obvious one; several stay unresolved, which
        // oidc-provider answers with `invalid_target` instead of minting a token for an arbitrary one.
        defaultResource: (_ctx, _client, oneOf) => (oneOf?.length === 1 ? oneOf[0] : oneOf),
        // Let the token request omit `resource` when exactly one was granted, even with `openid` requested.
        useGrantedResource: () => true,
      },
      rpInitiatedLogout: {
        logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = loggedOutPage();
        },
      },
    },
    // Browser-based MCP clients (e.g. an inspector) call the token endpoint cross-origin.
    clientBasedCORS: () => true,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
      ClientCredentials: (_ctx, token) =>
        token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL_SECONDS,
      RefreshToken: 24 * 60 * 60,
      Interaction: 10 * 60,
      Session: 24 * 60 * 60,
      Grant: 24 * 60 * 60,
    },
  };
}

/**
 * A statically configured machine client must name the scopes the operator approves for it (`scope`):
 * without it oidc-provider would let the client ask for any scope of any resource.
 */
function checkMachineClients(clients: readonly ClientMetadata[]): void {
  for (const client of clients) {
    const grants = client.grant_types ?? [];
    if (grants.includes('client_credentials') && !(typeof client.scope === 'string' && client.scope.trim())) {
      throw new TypeError(
        `demo IdP: client ${client.client_id} has the client_credentials grant but no approved scope; set its scope metadata`,
      );
    }
  }
}
