import type { JWK } from 'jose';
import { TOKEN_EXCHANGE_GRANT } from './token-types.ts';

export interface RegisterServiceOptions {
  /** The broker's registration endpoint (from its RFC 8414 metadata). */
  registrationEndpoint: string;
  /** RFC 7591 §3 initial access token the operator issued. */
  initialAccessToken: string;
  clientName: string;
  /** Public keys for `private_key_jwt`. */
  jwks: { keys: JWK[] };
  /** The resource URIs this service serves: tokens issued for them are exchangeable by it. */
  resources: readonly string[];
  grantTypes?: readonly string[];
}

/**
 * Registers a service with the broker (RFC 7591) for `private_key_jwt` and token exchange; returns
 * the registration response (`client_id`, `registration_access_token`, …). Errors carry the RFC
 * error code and description.
 */
export async function registerService(
  options: RegisterServiceOptions,
): Promise<Record<string, unknown> & { client_id: string }> {
  const response = await fetch(options.registrationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.initialAccessToken}` },
    body: JSON.stringify({
      client_name: options.clientName,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: options.jwks,
      grant_types: options.grantTypes ?? [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
      response_types: [],
      redirect_uris: [],
      baton_resources: options.resources,
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 201) {
    throw new Error(
      `registration refused (${response.status}): ${String(body.error)}: ${String(body.error_description ?? '')}`,
    );
  }
  return body as Record<string, unknown> & { client_id: string };
}
