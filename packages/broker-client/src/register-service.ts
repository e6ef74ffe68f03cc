import type { JWK } from 'jose';
import { TOKEN_EXCHANGE_GRANT } from './token-types.ts';

/** What `serviceClientMetadata` needs to describe a service to the broker. */
export interface ServiceClientMetadataOptions {
  /** Public keys for `private_key_jwt`; the first key's `alg` is the assertion algorithm. */
  jwks: { keys: JWK[] };
  /**
   * The resource URIs this service serves: tokens issued for them are exchangeable and introspectable
   * by it. Operator-approved: a registration may declare only those its initial access token approves.
   */
  resources: readonly string[];
  /** Set for an operator-listed (static) client; a dynamic registration gets one from the broker. */
  clientId?: string;
  clientName?: string;
  /**
   * Defaults to token exchange alone. `client_credentials` (service identity) needs the operator's
   * approval: a static client, or a registration whose initial access token approves it.
   */
  grantTypes?: readonly string[];
  /** The most this service may ask for as itself (`scope` metadata, operator-approved). Default: none. */
  scopes?: readonly string[];
  /**
   * Whether the broker joins this service's `traceparent` rather than starting a fresh trace
   * (`baton_trace_trusted`): for operator-run Baton hops only, and operator-approved.
   */
  traceTrusted?: boolean;
  /**
   * RFC 9449 §5.2 `dpop_bound_access_tokens`: the broker refuses this service a token without a DPoP
   * proof, so every token it holds is bound to its DPoP key.
   */
  dpopBound?: boolean;
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
  scope?: string;
  baton_trace_trusted?: boolean;
  dpop_bound_access_tokens?: boolean;
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
    ...grantMetadata(options),
    ...(options.dpopBound ? { dpop_bound_access_tokens: true } : {}),
  };
}

/** What `workloadClientMetadata` needs: a service known by the workload certificates it holds. */
export interface WorkloadClientMetadataOptions
  extends Omit<ServiceClientMetadataOptions, 'jwks' | 'clientId' | 'dpopBound'> {
  clientId: string;
  /**
   * Its SPIFFE ID (`spiffe://<trust-domain>/<path>`): the URI SAN of the certificates the workload CA
   * issues it, which the broker matches (`tls_client_auth_san_uri`, RFC 8705 §2.1.2).
   */
  spiffeId: string;
  /** Bind its tokens to the certificate it presents (`cnf.x5t#S256`, RFC 8705 §3). Default true. */
  certificateBound?: boolean;
}

/** RFC 8705 client metadata of a service that authenticates with its workload certificate. */
export type WorkloadClientMetadata = Omit<
  ServiceClientMetadata,
  'token_endpoint_auth_method' | 'token_endpoint_auth_signing_alg' | 'jwks' | 'dpop_bound_access_tokens'
> & {
  client_id: string;
  token_endpoint_auth_method: 'tls_client_auth';
  tls_client_auth_san_uri: string;
  tls_client_certificate_bound_access_tokens: boolean;
};

/**
 * A service client the operator lists for mutual TLS (`tls_client_auth` by its SPIFFE ID, tokens bound
 * to its certificate): no key to register, the workload CA vouches for it. It then asks for tokens with
 * `tlsClientCredentials(clientId)` over a connection that presents its certificate.
 *
 * @example
 * clients: [workloadClientMetadata({ clientId: 'orders-mcp', spiffeId: 'spiffe://baton.internal/orders-mcp', resources: [ordersMcp] })]
 */
export function workloadClientMetadata(options: WorkloadClientMetadataOptions): WorkloadClientMetadata {
  if (!options.spiffeId.startsWith('spiffe://'))
    throw new TypeError('workloadClientMetadata: spiffeId must be a spiffe:// URI');
  return {
    client_id: options.clientId,
    ...(options.clientName !== undefined ? { client_name: options.clientName } : {}),
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_san_uri: options.spiffeId,
    tls_client_certificate_bound_access_tokens: options.certificateBound !== false,
    ...grantMetadata(options),
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
  /** The resource URIs this service serves (within what the initial access token approves). */
  resources: readonly string[];
  /** Default: token exchange alone; `client_credentials` only with an initial access token that approves it. */
  grantTypes?: readonly string[];
  /** `scope` metadata, within what the initial access token approves. */
  scopes?: readonly string[];
}

/**
 * Registers a service with the broker (RFC 7591) for `private_key_jwt` and token exchange; the broker
 * refuses (`invalid_client_metadata`) anything the initial access token does not approve. Returns
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
        ...(options.grantTypes ? { grantTypes: options.grantTypes } : {}),
        ...(options.scopes ? { scopes: options.scopes } : {}),
      }),
    ),
    // The initial access token is for the registration endpoint alone: never sent on by a redirect.
    redirect: 'manual',
  });
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    throw new Error(
      `registration refused (${response.status}): the registration endpoint answered with a redirect`,
    );
  }
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 201) {
    throw new Error(
      `registration refused (${response.status}): ${String(body.error)}: ${String(body.error_description ?? '')}`,
    );
  }
  return body as Record<string, unknown> & { client_id: string };
}

/** What a service client asks for, however it authenticates: its grants, audiences, scopes. */
function grantMetadata(
  options: Omit<ServiceClientMetadataOptions, 'jwks'>,
): Pick<
  ServiceClientMetadata,
  'grant_types' | 'response_types' | 'redirect_uris' | 'baton_resources' | 'scope' | 'baton_trace_trusted'
> {
  return {
    grant_types: [...(options.grantTypes ?? [TOKEN_EXCHANGE_GRANT])],
    response_types: [],
    redirect_uris: [],
    baton_resources: [...options.resources],
    ...(options.scopes?.length ? { scope: options.scopes.join(' ') } : {}),
    ...(options.traceTrusted ? { baton_trace_trusted: true } : {}),
  };
}
