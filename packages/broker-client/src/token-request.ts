import { BatonError, type DelegationMode } from '@baton/core';
import type { DpopKey } from './dpop.ts';
import type { ServiceCredentials, TlsClientCredentials } from './service-credentials.ts';
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

export interface ExchangeRequest {
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
 * How a token request reaches the broker and what it proves possession of (sender-constrained tokens).
 * Without any of these: plain `fetch`, a bearer token.
 */
export interface TokenRequestOptions {
  /** Send a DPoP proof of this key (RFC 9449): the token comes back bound to it (`token_type: DPoP`). */
  dpop?: DpopKey;
  /**
   * The fetch to use, e.g. one that presents the service's client certificate (mutual TLS, RFC 8705:
   * `tls_client_auth` and certificate-bound tokens). Default: the global `fetch`.
   */
  fetch?: typeof fetch;
  /**
   * An undici dispatcher for the global `fetch` (Node), e.g. an `Agent` with the service's client
   * certificate and key and the broker's CA (`@baton/workload-identity`'s client TLS helper).
   */
  dispatcher?: unknown;
}

/**
 * RFC 8693 token exchange at the broker, authenticating with `private_key_jwt` (or, with
 * `TlsClientCredentials`, the client certificate of `options.fetch`/`dispatcher`).
 *
 * @example
 * const { access_token } = await exchangeToken(brokerIssuer, credentials, { subjectToken, resource: billingApi, scope: ['billing:read'] });
 * // Sender-constrained: const dpop = await dpopKey(); await exchangeToken(brokerIssuer, credentials, request, { dpop });
 */
export async function exchangeToken(
  issuer: string,
  credentials: ServiceCredentials | TlsClientCredentials,
  request: ExchangeRequest,
  options: TokenRequestOptions = {},
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
    options,
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
  credentials: ServiceCredentials | TlsClientCredentials,
  request: { resource: string; scope?: readonly string[]; traceparent?: string },
  options: TokenRequestOptions = {},
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
    options,
  );
}

async function tokenRequest(
  issuer: string,
  credentials: ServiceCredentials | TlsClientCredentials,
  parameters: Record<string, string>,
  traceparent: string | undefined,
  options: TokenRequestOptions,
): Promise<TokenResponse> {
  // Where the broker serves it under an issuer with a path (oidc-provider mounts its routes under the
  // issuer's path, without a trailing slash): the URL the broker pins its DPoP `htu` to.
  const endpoint = `${issuer.replace(/\/$/, '')}/token`;
  const send = async () => {
    // A fresh assertion and proof each attempt: both are single-use (`jti`).
    const proof = await options.dpop?.proof({ method: 'POST', url: endpoint });
    const init: RequestInit & { dispatcher?: unknown } = {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(traceparent ? { traceparent } : {}),
        ...(proof ? { dpop: proof } : {}),
      },
      body: new URLSearchParams({
        client_id: credentials.clientId,
        ...('assertion' in credentials
          ? {
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: await credentials.assertion(issuer),
            }
          : {}),
        ...parameters,
      }),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      // The form carries the client's assertion, the subject token and a DPoP proof: never sent on to
      // another location, and never a token from wherever a redirect points.
      redirect: 'manual',
    };
    const response = await (options.fetch ?? fetch)(endpoint, init);
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new TokenRequestError(
        response.status,
        'server_error',
        'the token endpoint answered with a redirect; token requests are never sent on',
      );
    }
    const nonce = response.headers.get('dpop-nonce');
    if (nonce) options.dpop?.acceptNonce(endpoint, nonce);
    return { response, body: (await response.json()) as Record<string, unknown>, nonce };
  };
  let { response, body, nonce } = await send();
  // RFC 9449 §8: the broker asks for its nonce once; the retry carries it.
  if (options.dpop && !response.ok && body.error === 'use_dpop_nonce' && nonce) {
    ({ response, body } = await send());
  }
  if (!response.ok) {
    throw new TokenRequestError(
      response.status,
      String(body.error ?? 'server_error'),
      body.error_description as string | undefined,
    );
  }
  return body as unknown as TokenResponse;
}
