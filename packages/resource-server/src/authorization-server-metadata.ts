import { z } from 'zod';
import { authorizationServerUnavailable } from './errors.ts';

const MetadataSchema = z.looseObject({
  issuer: z.string(),
  jwks_uri: z.string().optional(),
  introspection_endpoint: z.string().optional(),
});

export type AuthorizationServerMetadata = z.infer<typeof MetadataSchema>;

/**
 * Fetches an authorization server's metadata: RFC 8414 first, then OpenID Connect Discovery, and
 * refuses a document whose `issuer` is not exactly the configured issuer (RFC 8414 §3.3 — a mix-up
 * defence). Failures are `temporarily_unavailable`: authorization fails closed.
 */
export async function discoverAuthorizationServer(
  issuer: string,
  options: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<AuthorizationServerMetadata> {
  const doFetch = options.fetch ?? fetch;
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const candidates = [
    new URL(`/.well-known/oauth-authorization-server${path}`, url.origin),
    new URL(`${url.origin}${path}/.well-known/openid-configuration`),
  ];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      const response = await doFetch(candidate, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      if (!response.ok) {
        lastError = new Error(`metadata at ${candidate} answered ${response.status}`);
        continue;
      }
      const metadata = MetadataSchema.parse(await response.json());
      if (metadata.issuer !== issuer) {
        throw new Error(`metadata at ${candidate} names issuer ${metadata.issuer}, expected ${issuer}`);
      }
      return metadata;
    } catch (error) {
      lastError = error;
    }
  }
  throw authorizationServerUnavailable(lastError);
}
