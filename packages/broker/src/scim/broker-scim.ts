import type Provider from 'oidc-provider';
import { fetchEndpointMiddleware } from '../endpoints/fetch-endpoint.ts';
import type { OperatorRevocation } from '../revocation/operator-revocation.ts';
import {
  createScimService,
  SCIM_MAX_BODY_BYTES,
  type ScimAuthenticator,
  scimTooLarge,
} from './scim-service.ts';
import type { ScimStore } from './scim-store.ts';
import type { SubjectLifecycle } from './subject-lifecycle.ts';

/** `startBroker({ scim })`: a SCIM 2.0 service at `<issuer>/scim/v2`. */
export interface BrokerScimOptions {
  /** `MemoryScimStore` for one instance; `SqlScimStore` so every instance serves one directory. */
  store: ScimStore;
  /** Verifies the bearer access token (one the broker issued) and names its client. */
  authenticate: ScimAuthenticator;
  /** The operator-approved SCIM clients; any other client gets 403. */
  approvedClients: readonly string[];
  /** Where deactivations, deletions and group removals go. Default: the broker's own revocation (`broker.revoke`/`lift`, actor `scim:<client>`). */
  lifecycle?: SubjectLifecycle;
}

/** The path under the issuer where SCIM answers. */
export const SCIM_PATH = '/scim/v2';

/** Mounts SCIM on the broker's provider. */
export function mountScim(
  provider: Provider,
  options: BrokerScimOptions,
  broker: { issuer: string; revocation: OperatorRevocation; onError: (error: unknown) => void },
): void {
  const baseUrl = `${broker.issuer.replace(/\/$/, '')}${SCIM_PATH}`;
  const service = createScimService({
    baseUrl,
    store: options.store,
    lifecycle: options.lifecycle ?? brokerLifecycle(broker.revocation),
    authenticate: options.authenticate,
    approvedClients: options.approvedClients,
    onError: broker.onError,
  });
  const prefix = new URL(baseUrl).pathname;
  provider.use(
    fetchEndpointMiddleware(
      {
        handles: (path) => path === prefix || path.startsWith(`${prefix}/`),
        handle: service,
        maxBodyBytes: SCIM_MAX_BODY_BYTES,
        tooLarge: scimTooLarge,
      },
      broker.issuer,
    ),
  );
}

/**
 * The broker's one revocation path for SCIM: audited with actor `scim:<client>` and the SCIM reason,
 * transmitted to every receiver like any other revocation.
 */
function brokerLifecycle(revocation: OperatorRevocation): SubjectLifecycle {
  return {
    revoke: (target, context) =>
      revocation.revoke(target, { actor: `scim:${context.actor}`, reason: context.reason }),
    lift: (target, context) =>
      revocation.lift(target, { actor: `scim:${context.actor}`, reason: context.reason }),
  };
}
