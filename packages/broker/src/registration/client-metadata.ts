import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { assertFetchedUrlsAllowed, type FetchAllowList } from '../outbound-fetch.ts';
import { assertWithinApproval } from './approvals.ts';

/**
 * Baton's client metadata (RFC 7591 §2 extensions):
 * - `baton_resources`: the resource URIs the client serves. A subject token whose audience is one of
 *   them is the client's to exchange (no token laundering), and tokens for them are its to introspect.
 * - `baton_trace_trusted`: the client's `traceparent` is joined rather than linked (it is an
 *   operator-run Baton hop).
 * Both are operator-approved only (see `approvals.ts`).
 */
export const BATON_CLIENT_METADATA = ['baton_resources', 'baton_trace_trusted'];

/**
 * oidc-provider's `extraClientMetadata.validator`, called once per extra property whenever a client
 * is built (static, registered, loaded from the store, or from a metadata document). The checks of
 * the whole client run with the first property, so once per client.
 */
export function clientMetadataValidator(allowedFetches: FetchAllowList) {
  return (
    ctx: KoaContextWithOIDC | undefined,
    key: string,
    value: unknown,
    metadata: Record<string, unknown>,
  ) => {
    if (key === 'baton_trace_trusted' && value !== undefined && typeof value !== 'boolean') {
      throw new errors.InvalidClientMetadata('baton_trace_trusted must be a boolean');
    }
    if (key !== 'baton_resources') return;
    if (
      value !== undefined &&
      (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string' || !URL.canParse(entry)))
    ) {
      throw new errors.InvalidClientMetadata('baton_resources must be an array of absolute URIs');
    }
    assertFetchedUrlsAllowed(metadata, allowedFetches);
    if (selfDeclaredWithoutPolicy(ctx)) assertWithinApproval(metadata, undefined);
  };
}

/**
 * A registration (or update) that no registration policy checks: anonymous registration, allowed for
 * demos, or an update through a registration access token issued without one. It gets no approval.
 */
function selfDeclaredWithoutPolicy(ctx: KoaContextWithOIDC | undefined): boolean {
  const route = ctx?.oidc?.route;
  if (route === 'registration') return ctx!.oidc.entities.InitialAccessToken?.policies === undefined;
  if (route === 'client_update') return ctx!.oidc.entities.RegistrationAccessToken?.policies === undefined;
  return false;
}
