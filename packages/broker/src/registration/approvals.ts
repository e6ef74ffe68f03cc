import { createHash } from 'node:crypto';
import { sameResource } from '@baton/resource-server';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { scopesOf } from '../grants/parameters.ts';
import { JWT_BEARER_GRANT } from '../jwt-bearer/grant.ts';

/**
 * What the operator lets a client declare about itself. A statically configured client is approved
 * for everything it declares (the operator wrote it); a self-registered client (RFC 7591) only for
 * what the initial access token it registered with carries; a Client ID Metadata Document client
 * only for what the operator listed for its client id. Nothing is approved by default.
 */
export interface ClientApproval {
  /** Resource URIs it may declare in `baton_resources` (tokens for them are its to exchange and introspect). */
  resources?: readonly string[];
  /** Whether it may register the `client_credentials` grant (service identity). */
  clientCredentials?: boolean;
  /**
   * Whether it may register the jwt-bearer grant (RFC 7523): redeem ID-JAGs and home brokers' grants,
   * which makes it the client a visitor from another trust domain arrives as.
   */
  jwtBearer?: boolean;
  /** Scopes it may declare in `scope`: the most it may ask for as itself (service identity). */
  scopes?: readonly string[];
  /** Whether it may declare `baton_trace_trusted: true` (its `traceparent` is joined, not linked). */
  traceTrusted?: boolean;
}

/** An RFC 7591 §3 initial access token that carries an approval (an oidc-provider registration policy). */
export interface RegistrationApproval extends ClientApproval {
  /** Names the approval (in the broker's log, and in the registration access tokens issued under it). */
  name: string;
  /** The initial access token, a secret of at least 16 characters; registering with it grants the approval. */
  initialAccessToken: string;
}

/** Why self-declared metadata was refused: a stable reason for the log, the RFC 7591 error for the client. */
export class UnapprovedMetadata extends errors.InvalidClientMetadata {
  readonly reason: string;
  constructor(reason: string, description: string, detail: string) {
    super(description, { detail });
    this.reason = reason;
  }
}

/**
 * Refuses metadata a client declares about itself beyond its approval (`undefined`: none). Called
 * before oidc-provider validates the metadata's types, so a value of the wrong type is left to that.
 */
export function assertWithinApproval(
  metadata: Record<string, unknown>,
  approval: ClientApproval | undefined,
): void {
  const grantTypes = metadata.grant_types;
  if (
    Array.isArray(grantTypes) &&
    grantTypes.includes('client_credentials') &&
    !approval?.clientCredentials
  ) {
    throw new UnapprovedMetadata(
      'client_credentials_not_approved',
      "the client_credentials grant needs the operator's approval",
      'grant_types includes client_credentials',
    );
  }
  if (Array.isArray(grantTypes) && grantTypes.includes(JWT_BEARER_GRANT) && !approval?.jwtBearer) {
    throw new UnapprovedMetadata(
      'jwt_bearer_not_approved',
      "the jwt-bearer grant needs the operator's approval",
      'grant_types includes urn:ietf:params:oauth:grant-type:jwt-bearer',
    );
  }
  const resources = metadata.baton_resources;
  if (Array.isArray(resources)) {
    const unapproved = resources.filter(
      (resource) =>
        typeof resource !== 'string' ||
        !(approval?.resources ?? []).some((approved) => sameResource(approved, resource)),
    );
    if (unapproved.length > 0) {
      throw new UnapprovedMetadata(
        'resources_not_approved',
        'baton_resources lists a resource this registration is not approved for',
        `baton_resources not approved: ${unapproved.map(String).join(' ')}`,
      );
    }
  }
  if (typeof metadata.scope === 'string') {
    const unapproved = scopesOf(metadata.scope).filter((scope) => !(approval?.scopes ?? []).includes(scope));
    if (unapproved.length > 0) {
      throw new UnapprovedMetadata(
        'scope_not_approved',
        'scope lists a scope this registration is not approved for',
        `scope not approved: ${unapproved.join(' ')}`,
      );
    }
  }
  if (metadata.baton_trace_trusted === true && !approval?.traceTrusted) {
    throw new UnapprovedMetadata(
      'trace_trust_not_approved',
      "baton_trace_trusted needs the operator's approval",
      'baton_trace_trusted: true',
    );
  }
}

const NO_APPROVAL = 'baton:no-approval';

/**
 * The client metadata property naming the approval a client registered under. Set by the broker's
 * registration policies only; a client that sends it without one is refused.
 */
export const APPROVAL_PROPERTY = 'baton_approval';

/**
 * A stored client that declares more than its approval allows now: the approval was narrowed or
 * withdrawn after it registered, or it registered before approvals were recorded. It cannot be
 * loaded, so it cannot authenticate: `invalid_client` (RFC 6749 §5.2), 401.
 */
export class ApprovalExceeded extends errors.InvalidClientAuth {
  readonly reason: string;
  constructor(cause: UnapprovedMetadata) {
    super(cause.error_detail);
    this.reason = 'client_beyond_approval';
    this.error_detail = `${cause.reason}: ${cause.error_detail}`;
  }
}
const policyName = (approval: RegistrationApproval) => `baton:approval:${approval.name}`;

/**
 * oidc-provider registration policies, one per approval and one for the plain initial access token
 * (no approval). They run on every registration with an initial access token and on every update
 * with the registration access token issued then (oidc-provider carries the policy over).
 */
export function registrationPolicies(
  approvals: readonly RegistrationApproval[],
): Record<string, (ctx: unknown, properties: Record<string, unknown>) => void> {
  // Each policy also records, in `baton_approval`, the approval the client registered (or updated)
  // under, overwriting whatever the client sent: every later load re-checks the client against it.
  const policies: Record<string, (ctx: unknown, properties: Record<string, unknown>) => void> = {
    [NO_APPROVAL]: (_ctx, properties) => {
      delete properties[APPROVAL_PROPERTY];
      assertWithinApproval(properties, undefined);
    },
  };
  for (const approval of approvals) {
    policies[policyName(approval)] = (_ctx, properties) => {
      properties[APPROVAL_PROPERTY] = approval.name;
      assertWithinApproval(properties, approval);
    };
  }
  return policies;
}

/**
 * The `InitialAccessToken` store: the tokens the operator configured, each with its policy, held in
 * memory by every instance alike and never written to the shared store (nothing stale to outlive a
 * configuration change, no token at rest). Looked up by hash, so the lookup's timing says nothing
 * about the token.
 */
export function initialAccessTokenAdapter(
  plain: string | undefined,
  approvals: readonly RegistrationApproval[],
): Adapter {
  const issuedAt = Math.floor(Date.now() / 1000);
  const byHash = new Map<string, AdapterPayload>();
  const add = (token: string, policy: string) => {
    const key = hash(token);
    if (byHash.has(key)) throw new TypeError('startBroker: two initial access tokens are the same');
    byHash.set(key, { jti: token, kind: 'InitialAccessToken', iat: issuedAt, policies: [policy] });
  };
  if (plain) add(plain, NO_APPROVAL);
  for (const approval of approvals) add(approval.initialAccessToken, policyName(approval));
  return {
    async find(id) {
      return byHash.get(hash(id));
    },
    async upsert() {
      throw new Error('initial access tokens are configured, not issued');
    },
    async findByUid() {
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume() {},
    async destroy() {},
    async revokeByGrantId() {},
  };
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
