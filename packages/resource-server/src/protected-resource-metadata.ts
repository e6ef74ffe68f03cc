import { z } from 'zod';

const PrmOptionsSchema = z.object({
  resource: z.url(),
  authorizationServers: z.array(z.url()).min(1),
  scopesSupported: z.array(z.string().min(1)).optional(),
  resourceName: z.string().optional(),
  resourceDocumentation: z.url().optional(),
  /** RFC 9728 §2 / RFC 9449 §7.1: the DPoP proof algorithms accepted. */
  dpopSigningAlgValuesSupported: z.array(z.string().min(1)).min(1).optional(),
  /** RFC 9728 §2: every access token must be DPoP-bound. */
  dpopBoundAccessTokensRequired: z.boolean().optional(),
  /** RFC 9728 §2 / RFC 8705 §3: certificate-bound access tokens are accepted. */
  tlsClientCertificateBoundAccessTokens: z.boolean().optional(),
});

export type ProtectedResourceMetadataOptions = z.input<typeof PrmOptionsSchema>;

/** The RFC 9728 §2 document a protected resource publishes. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: ['header'];
  scopes_supported?: string[];
  resource_name?: string;
  resource_documentation?: string;
  dpop_signing_alg_values_supported?: string[];
  dpop_bound_access_tokens_required?: boolean;
  tls_client_certificate_bound_access_tokens?: boolean;
}

/**
 * Builds the Protected Resource Metadata document. Validated at construction: a wrong resource or
 * authorization server URL is a deployment bug, not a runtime condition.
 *
 * @example
 * const document = protectedResourceMetadata({ resource: 'https://orders.example/mcp', authorizationServers: ['https://idp.example'] });
 */
export function protectedResourceMetadata(
  options: ProtectedResourceMetadataOptions,
): ProtectedResourceMetadata {
  const parsed = PrmOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new TypeError(
      `protectedResourceMetadata: ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')} invalid`,
    );
  }
  const {
    resource,
    authorizationServers,
    scopesSupported,
    resourceName,
    resourceDocumentation,
    dpopSigningAlgValuesSupported,
    dpopBoundAccessTokensRequired,
    tlsClientCertificateBoundAccessTokens,
  } = parsed.data;
  return {
    resource,
    authorization_servers: authorizationServers,
    bearer_methods_supported: ['header'],
    ...(scopesSupported ? { scopes_supported: scopesSupported } : {}),
    ...(resourceName ? { resource_name: resourceName } : {}),
    ...(resourceDocumentation ? { resource_documentation: resourceDocumentation } : {}),
    ...(dpopSigningAlgValuesSupported
      ? { dpop_signing_alg_values_supported: dpopSigningAlgValuesSupported }
      : {}),
    ...(dpopBoundAccessTokensRequired !== undefined
      ? { dpop_bound_access_tokens_required: dpopBoundAccessTokensRequired }
      : {}),
    ...(tlsClientCertificateBoundAccessTokens !== undefined
      ? { tls_client_certificate_bound_access_tokens: tlsClientCertificateBoundAccessTokens }
      : {}),
  };
}

/**
 * The path-aware well-known URL (RFC 9728 §3.1): the well-known segment goes between the host and the
 * resource's path, so `https://x/mcp` publishes at `https://x/.well-known/oauth-protected-resource/mcp`.
 */
export function protectedResourceMetadataUrl(resource: string | URL): URL {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return new URL(`/.well-known/oauth-protected-resource${path}`, url.origin);
}

/** Answers GET (and CORS preflight) for the metadata URL; `undefined` for any other path. */
export function protectedResourceMetadataResponse(
  request: Request,
  document: ProtectedResourceMetadata,
): Response | undefined {
  const wellKnown = protectedResourceMetadataUrl(document.resource);
  if (new URL(request.url).pathname !== wellKnown.pathname) return undefined;
  return protectedResourceMetadataDocumentResponse(request, document);
}

/**
 * Answers a request already routed to the metadata URL (GET, HEAD, CORS preflight), without looking
 * at its path: for hosts that match the path themselves, e.g. tolerating a trailing slash.
 */
export function protectedResourceMetadataDocumentResponse(
  request: Request,
  document: ProtectedResourceMetadata,
): Response {
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS' };
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return new Response(null, { status: 405, headers: { ...cors, allow: 'GET, OPTIONS' } });
  }
  return Response.json(document, { headers: { ...cors, 'cache-control': 'max-age=300' } });
}
