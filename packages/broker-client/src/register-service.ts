import type { JWK } from 'jose';
import { TOKEN_EXCHANGE_GRANT } from './token-types.ts';

/** What `serviceClientMetadata` needs to describe a service to the broker. */
export interface ServiceClientMetadataOptions {
  /** Public keys for `private_key_jwt`; the first key's `alg` is the assertion algorithm. */
  jwks: { keys: JWK[] };
  /** The resource URIs this service serves: tokens issued for them are exchangeable by it. */
  resources: readonly string[];
  /** Set for an operator-listed (static) client; a dynamic registration gets one from the broker. */
  clientId?: string;
  clientName?: string;
  /** Defaults to token exchange and client credentials (service identity). */
  grantTypes?: readonly string[];
}

/** JWS algorithms for a `private_key_jwt` assertion (asymmetric only; the broker checks the key matches). */
export type AssertionAlgorithm =
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'RS256'
  | 'RS384'
  | 'RS512';

/** RFC 7591 client metadata of a service: `private_key_jwt`, no redirects, the resources it serves. */
export type ServiceClientMetadata = {
  client_id?: string;
  client_name?: string;
  token_endpoint_auth_method: 'private_key_jwt';
  token_endpoint_auth_signing_alg: AssertionAlgorithm;
  jwks: { keys: JWK[] };
  grant_types: string[];
  response_types: [];
  redirect_uris: [];
  baton_resources: string[];
};

/**
 * The one description of a service client, for both ways onto the broker: what `registerService`
 * sends (RFC 7591), and what an operator lists in the broker's `clients` (operator-approved static
 * registration, so declared policy can name the client id).
 */
export function serviceClientMetadata(
  options: ServiceClientMetadataOptions & { clientId: string },
): ServiceClientMetadata & { client_id: string };
export function serviceClientMetadata(options: ServiceClientMetadataOptions): ServiceClientMetadata;
export function serviceClientMetadata(options: ServiceClientMetadataOptions): ServiceClientMetadata {
  return {
    ...(options.clientId !== undefined ? { client_id: options.clientId } : {}),
    ...(options.clientName !== undefined ? { client_name: options.clientName } : {}),
    token_endpoint_auth_method: 'private_key_jwt',
    // The broker refuses assertions in any other algorithm than the one registered.
    token_endpoint_auth_signing_alg: (options.jwks.keys[0]?.alg ?? 'ES256') as AssertionAlgorithm,
    jwks: options.jwks,
    grant_types: [...(options.grantTypes ?? [TOKEN_EXCHANGE_GRANT, 'client_credentials'])],
    response_types: [],
    redirect_uris: [],
    baton_resources: [...options.resources],
  };
}

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
    body: JSON.stringify(
      serviceClientMetadata({
        jwks: options.jwks,
        resources: options.resources,
        clientName: options.clientName,
        grantTypes: options.grantTypes,
      }),
    ),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 201) {
    throw new Error(
      `registration refused (${response.status}): ${String(body.error)}: ${String(body.error_description ?? '')}`,
    );
  }
  return body as Record<string, unknown> & { client_id: string };
}
