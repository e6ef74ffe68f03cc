import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { assertFetchedUrlsAllowed, type FetchAllowList } from '../outbound-fetch.ts';
import {
  APPROVAL_PROPERTY,
  ApprovalExceeded,
  assertWithinApproval,
  type ClientApproval,
  type RegistrationApproval,
  UnapprovedMetadata,
} from './approvals.ts';

/**
 * Baton's client metadata (RFC 7591 §2 extensions):
 * - `baton_resources`: the resource URIs the client serves. A subject token whose audience is one of
 *   them is the client's to exchange (no token laundering), and tokens for them are its to introspect.
 * - `baton_trace_trusted`: the client's `traceparent` is joined rather than linked (it is an
 *   operator-run Baton hop).
 * - `baton_approval`: the registration approval the client registered under, set by the broker.
 * The first two are operator-approved only (see `approvals.ts`).
 */
export const BATON_CLIENT_METADATA = ['baton_resources', 'baton_trace_trusted', APPROVAL_PROPERTY];

/** Which clients the operator approves elsewhere than through a registration approval. */
export interface ApprovalSources {
  /** Registration approvals as configured now. */
  approvals: readonly RegistrationApproval[];
  /** Client ids of the static clients: approved for everything the operator wrote. */
  staticClientIds: ReadonlySet<string>;
  /** Client ID Metadata Document clients are checked against their own approvals when fetched. */
  metadataDocuments: boolean;
}

/**
 * oidc-provider's `extraClientMetadata.validator`, called once per extra property whenever a client
 * is built (static, registered, loaded from the store, or from a metadata document). The checks of
 * the whole client run with the first property, so once per client.
 *
 * A registered client is re-checked against the approval it registered under as configured now, each
 * time it is loaded from the store (oidc-provider builds it again, without a route), not just when it
 * registered: an approval the operator narrowed or withdrew (an unknown name counts as none), and a
 * client stored before approvals were recorded (no `baton_approval`: approved for nothing), leave a
 * client that declares more unloadable rather than quietly keeping what it no longer may have.
 */
export function clientMetadataValidator(allowedFetches: FetchAllowList, sources: ApprovalSources) {
  const byName = new Map<string, ClientApproval>(
    sources.approvals.map((approval) => [approval.name, approval]),
  );
  return (
    ctx: KoaContextWithOIDC | undefined,
    key: string,
    value: unknown,
    metadata: Record<string, unknown>,
  ) => {
    if (key === 'baton_trace_trusted' && value !== undefined && typeof value !== 'boolean') {
      throw new errors.InvalidClientMetadata('baton_trace_trusted must be a boolean');
    }
    if (key === APPROVAL_PROPERTY && value !== undefined && typeof value !== 'string') {
      throw new errors.InvalidClientMetadata('baton_approval must be a string');
    }
    if (key !== 'baton_resources') return;
    if (
      value !== undefined &&
      (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string' || !URL.canParse(entry)))
    ) {
      throw new errors.InvalidClientMetadata('baton_resources must be an array of absolute URIs');
    }
    assertFetchedUrlsAllowed(metadata, allowedFetches);
    const clientId = String(metadata.client_id);
    if (sources.staticClientIds.has(clientId)) return;
    if (sources.metadataDocuments && isMetadataDocumentClientId(clientId)) return;
    const route = ctx?.oidc?.route;
    if (route === 'registration' || route === 'client_update') {
      // The registration policy, when there is one, set `baton_approval` and checked the metadata.
      if (selfDeclaredWithoutPolicy(ctx) && metadata[APPROVAL_PROPERTY] !== undefined) {
        throw new UnapprovedMetadata(
          'approval_self_declared',
          'baton_approval is set by the broker, not by the client',
          `baton_approval: ${String(metadata[APPROVAL_PROPERTY])}`,
        );
      }
      assertWithinApproval(metadata, approvalOf(metadata, byName));
      return;
    }
    try {
      assertWithinApproval(metadata, approvalOf(metadata, byName));
    } catch (error) {
      throw error instanceof UnapprovedMetadata ? new ApprovalExceeded(error) : error;
    }
  };
}

function approvalOf(
  metadata: Record<string, unknown>,
  byName: ReadonlyMap<string, ClientApproval>,
): ClientApproval | undefined {
  const name = metadata[APPROVAL_PROPERTY];
  return typeof name === 'string' ? byName.get(name) : undefined;
}

/** oidc-provider identifies a metadata document client by an https `client_id`; registered ones get random ids. */
function isMetadataDocumentClientId(clientId: string): boolean {
  return URL.canParse(clientId) && new URL(clientId).protocol === 'https:';
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
