import type { Check } from '../../grants/checks.ts';
import { batonMetadataOf, type GrantRequest } from '../../grants/grant-request.ts';

/** What the client check adds. */
export interface ExchangingClient {
  /** The client's `baton_resources`: subject tokens issued for these were issued to it. */
  readonly ownResources: readonly string[];
}

/**
 * The exchanging client, as oidc-provider authenticated it (`private_key_jwt` by default) and checked
 * that it may use the token-exchange grant: what the later checks need of its metadata.
 */
export const exchangingClient: Check<GrantRequest, ExchangingClient> = ({ client }) => ({
  ownResources: batonMetadataOf(client).resources,
});
