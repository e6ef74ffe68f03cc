import type { JWTVerifyGetKey } from 'jose';
import type Provider from 'oidc-provider';
import { fetchEndpointMiddleware } from '../endpoints/fetch-endpoint.ts';
import { serviceTokenAuthenticator } from '../endpoints/service-token.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
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
  /**
   * Verifies the bearer access token and names its client. Default: the broker's own service-identity
   * token for `<issuer>/scim/v2` (client credentials, from a static client; see
   * `serviceTokenAuthenticator`), so a provisioning client needs `client_credentials`, a policy rule
   * for that audience, and its id in `approvedClients`.
   */
  authenticate?: ScimAuthenticator;
  /** The operator-approved SCIM clients; any other client gets 403. */
  approvedClients: readonly string[];
  /** Where deactivations, deletions and group removals go. Default: the broker's own revocation (`broker.revoke`/`lift`, actor `scim:<client>`). */
  lifecycle?: SubjectLifecycle;
}

/** The audience of the access tokens SCIM clients present: `<issuer>/scim/v2`. */
export function scimAudience(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}${SCIM_PATH}`;
}

function brokerTokenAuthenticator(
  authenticate: (request: Request) => Promise<string | undefined>,
): ScimAuthenticator {
  return async (request) => {
    const clientId = await authenticate(request);
    return clientId === undefined ? undefined : { clientId };
  };
}

/** The path under the issuer where SCIM answers. */
export const SCIM_PATH = '/scim/v2';

/** Mounts SCIM on the broker's provider. */
export function mountScim(
  provider: Provider,
  options: BrokerScimOptions,
  broker: {
    issuer: string;
    revocation: OperatorRevocation;
    /** The broker's own verification keys, registry and static clients: the default authenticator's. */
    keys: JWTVerifyGetKey;
    registry: TokenRegistry;
    staticClients: readonly string[];
    onError: (error: unknown) => void;
  },
): void {
  const baseUrl = scimAudience(broker.issuer);
  const service = createScimService({
    baseUrl,
    store: options.store,
    lifecycle: options.lifecycle ?? brokerLifecycle(broker.revocation),
    authenticate:
      options.authenticate ??
      brokerTokenAuthenticator(
        serviceTokenAuthenticator({
          issuer: broker.issuer,
          audience: baseUrl,
          keys: broker.keys,
          registry: broker.registry,
          // Every static client authenticates; only the approved ones are let in (403 for the others).
          clients: new Set(broker.staticClients),
        }),
      ),
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
