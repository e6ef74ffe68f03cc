import { BatonError, type DelegationMode } from '@baton/core';
import type { DpopKey } from './dpop-proof.ts';
import { type DpopNonces, dpopFetch } from './dpop-request.ts';
import type { ServiceCredentials } from './service-credentials.ts';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from './token-types.ts';

/**
 * A refused token request: the RFC 6749 §5.2 / RFC 8693 §2.2.2 error, as the broker sent it (`error`
 * is the broker's word, not checked against a list). The message is `error: error_description`.
 */
export class TokenRequestError extends BatonError<'ERR_TOKEN_REQUEST_REFUSED'> {
  override readonly name = 'TokenRequestError';
  readonly status: number;
  readonly error: string;
  constructor(status: number, error: string, description: string | undefined) {
    super('ERR_TOKEN_REQUEST_REFUSED', `${error}${description ? `: ${description}` : ''}`);
    this.status = status;
    this.error = error;
  }
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  issued_token_type?: string;
  scope?: string;
}

/** How a token request reaches the broker, and what it proves there. */
export interface TokenRequestTransport {
  /**
   * Prove possession of this key (RFC 9449 §5): the broker binds the token to it (`cnf.jkt`,
   * `token_type: DPoP`). A `use_dpop_nonce` answer is retried once with the broker's nonce.
   */
  dpop?: { key: DpopKey; nonces: DpopNonces };
  /**
   * The fetch to reach the broker with, e.g. one whose dispatcher presents this service's client
   * certificate (RFC 8705 mutual TLS). Default: the global `fetch`.
   */
  fetch?: typeof fetch;
}

export interface ExchangeRequest extends TokenRequestTransport {
  subjectToken: string;
  subjectTokenType?: string;
  /** The one audience the new token is for. */
  resource: string;
  scope?: readonly string[];
  requestedTokenType?: string;
  /** The delegation modes an exchange asks for (service identity is `clientCredentialsToken`). Default `on_behalf_of`. */
  delegationMode?: Exclude<DelegationMode, 'service_identity'>;
  actorToken?: string;
  actorTokenType?: string;
  traceparent?: string;
  /**
   * A Transaction Token request (draft-ietf-oauth-transaction-tokens-10 §9.1, with `requestedTokenType`
   * the Txn-Token type): the trust domain (`audience`, required there), and what the Txn-Token should
   * assert in `rctx` (`requestContext`) and `tctx.details` (`requestDetails`).
   */
  transaction?: {
    trustDomain: string;
    requestContext?: Record<string, unknown>;
    requestDetails?: Record<string, unknown>;
  };
}

/**
 * RFC 8693 token exchange at the broker, authenticating with `private_key_jwt`.
 *
 * @example
 * const { access_token } = await exchangeToken(brokerIssuer, credentials, { subjectToken, resource: billingApi, scope: ['billing:read'] });
 */
export async function exchangeToken(
  issuer: string,
  credentials: ServiceCredentials,
  request: ExchangeRequest,
): Promise<TokenResponse> {
  return tokenRequest(
    issuer,
    credentials,
    {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: request.subjectToken,
      subject_token_type: request.subjectTokenType ?? ACCESS_TOKEN_TYPE,
      resource: request.resource,
      ...(request.scope?.length ? { scope: request.scope.join(' ') } : {}),
      ...(request.requestedTokenType ? { requested_token_type: request.requestedTokenType } : {}),
      ...(request.delegationMode ? { delegation_mode: request.delegationMode } : {}),
      ...(request.actorToken
        ? { actor_token: request.actorToken, actor_token_type: request.actorTokenType ?? ACCESS_TOKEN_TYPE }
        : {}),
      ...(request.transaction ? transactionParameters(request.transaction) : {}),
    },
    request.traceparent,
    request,
  );
}

function transactionParameters(
  transaction: NonNullable<ExchangeRequest['transaction']>,
): Record<string, string> {
  const { trustDomain, requestContext, requestDetails } = transaction;
  return {
    audience: trustDomain,
    ...(requestContext ? { request_context: JSON.stringify(requestContext) } : {}),
    ...(requestDetails ? { request_details: JSON.stringify(requestDetails) } : {}),
  };
}

/**
 * OAuth client credentials for the service's own identity (the "service identity" mode): one
 * audience, scopes within what the operator approved for this client, decided by the broker's policy.
 *
 * @example
 * const { access_token } = await clientCredentialsToken(brokerIssuer, credentials, { resource: ordersApi, scope: ['orders:read'] });
 */
export async function clientCredentialsToken(
  issuer: string,
  credentials: ServiceCredentials,
  request: { resource: string; scope?: readonly string[]; traceparent?: string } & TokenRequestTransport,
): Promise<TokenResponse> {
  return tokenRequest(
    issuer,
    credentials,
    {
      grant_type: 'client_credentials',
      resource: request.resource,
      ...(request.scope?.length ? { scope: request.scope.join(' ') } : {}),
    },
    request.traceparent,
    request,
  );
}

async function tokenRequest(
  issuer: string,
  credentials: ServiceCredentials,
  parameters: Record<string, string>,
  traceparent?: string,
  transport: TokenRequestTransport = {},
): Promise<TokenResponse> {
  const endpoint = `${issuer}/token`;
  // Built for each attempt: a client assertion is single-use, so a DPoP nonce retry needs a new one.
  const init = async (): Promise<RequestInit> => ({
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...(traceparent ? { traceparent } : {}),
    },
    body: new URLSearchParams({
      client_id: credentials.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await credentials.assertion(issuer),
      ...parameters,
    }),
  });
  const send = transport.fetch ?? fetch;
  const response = transport.dpop
    ? await dpopFetch(endpoint, init, {
        key: transport.dpop.key,
        nonces: transport.dpop.nonces,
        fetch: send,
      })
    : await send(endpoint, await init());
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    throw new TokenRequestError(
      response.status,
      String(body.error ?? 'server_error'),
      body.error_description as string | undefined,
    );
  }
  return body as unknown as TokenResponse;
}
