import { createHash } from 'node:crypto';
import {
  EVENT_TYPES,
  REVOCATION_EVENT_TYPES,
  revocationsOfEvent,
  SetRefused,
  setPushHandler,
  type VerifiedSet,
  verifySecurityEventToken,
} from '@baton/shared-signals';
import { createRemoteJWKSet, decodeJwt, type JWTVerifyGetKey } from 'jose';
import type { Adapter } from 'oidc-provider';
import type { FetchEndpoint } from '../endpoints/fetch-endpoint.ts';
import type { HomeDomain } from '../jwt-bearer/options.ts';
import { qualified } from '../jwt-bearer/visitor.ts';
import type { LiftTarget, RevocationTarget } from '../registry/token-registry.ts';
import type { RevocationActor } from '../revocation/operator-revocation.ts';

/** `startBroker({ identityProviderSignals })`: the broker receives its identity providers' SETs. */
export interface IdentityProviderSignalsOptions {
  /**
   * The identity providers whose Security Event Tokens are taken (each one of `trustedIssuers`, or a
   * home broker of `identityChaining.homeDomains`), with where their keys are (default: the `jwks_uri`
   * of their metadata). A SET from any other issuer is refused `invalid_issuer`.
   */
  issuers: readonly { issuer: string; jwksUri?: string }[];
  /**
   * The exact `Authorization` value each push must carry, compared in constant time (the
   * `authorization_header` you configure at the identity provider). Default: none, the SET's
   * signature, audience and single use authenticate it.
   */
  authorization?: string;
}

/** A verified SET's key in the store of applied SETs: a digest of its issuer and `jti` (bounded length). */
function replayKey(set: Pick<VerifiedSet, 'issuer' | 'jti'>): string {
  return createHash('sha256').update(`${set.issuer}\u0000${set.jti}`).digest('base64url');
}

/** The SETs the broker applied: asked before applying one, told after. */
export interface AppliedSecurityEvents {
  has(key: string): Promise<boolean>;
  /** Until `expiresAt` (Unix seconds), when the SET is too old to be taken anyway. */
  add(key: string, expiresAt: number): Promise<void>;
}

/** The applied SETs in an oidc-provider adapter (the broker's store: memory, PGlite or PostgreSQL). */
export function appliedSecurityEvents(adapter: Adapter): AppliedSecurityEvents {
  return {
    has: async (key) => (await adapter.find(key)) !== undefined,
    add: async (key, expiresAt) => {
      await adapter.upsert(
        key,
        { iat: Math.floor(Date.now() / 1000) },
        Math.max(1, expiresAt - Math.floor(Date.now() / 1000)),
      );
    },
  };
}

/** Where identity providers push (RFC 8935): `<issuer>/ssf/receiver`. */
export const IDENTITY_PROVIDER_SIGNALS_PATH = '/ssf/receiver';

/** How long a SET's jti is remembered: `verifySecurityEventToken`'s default `maxAgeSeconds` (a day). */
const REPLAY_WINDOW_SECONDS = 86_400;
/**
 * What an identity provider may tell the broker: CAEP and RISC about its own people and sessions, and
 * revocations of its own tokens. Not Baton's client events: the broker's clients are the operator's
 * to revoke and lift.
 */
const IDENTITY_PROVIDER_EVENTS: ReadonlySet<string> = new Set(
  REVOCATION_EVENT_TYPES.filter(
    (type) => type !== EVENT_TYPES.clientRevoked && type !== EVENT_TYPES.clientEnabled,
  ),
);

export interface IdentityProviderSignalsInput {
  /** The broker's issuer: the `aud` every SET must carry. */
  audience: string;
  options: IdentityProviderSignalsOptions;
  /**
   * The home domains (identity chaining) among the issuers: the people and sessions a home broker's
   * SETs name are its visitors, named here qualified by its issuer (`<home>|<id>`, see
   * `jwt-bearer/visitor.ts`), so a home broker revokes its visitors and never this domain's people.
   */
  homeDomains?: readonly HomeDomain[];
  /** The SETs applied (shared by every instance), so that each is applied once. */
  applied: AppliedSecurityEvents;
  /** Told of an identity provider's `account-enabled` (taken, not applied: lifting is the operator's). */
  onLiftNotApplied?: (lift: { kind: string; value: string; by: string }) => void;
  revoke(target: RevocationTarget, by: RevocationActor): Promise<unknown>;
  lift(target: LiftTarget, by: RevocationActor): Promise<unknown>;
  /** The JWKS URL of a trusted issuer, from its metadata. */
  jwksUriOf(issuer: string): Promise<string>;
  onRefused?: (refusal: { err: string; reason: string }) => void;
  onError?: (error: unknown) => void;
}

/**
 * The broker as a Shared Signals receiver of its identity providers (RFC 8935 push): CAEP
 * `session-revoked` revokes the session (or, naming only the person, their tokens issued before it),
 * RISC `account-disabled` disables the person (an operator lifts it; `account-enabled` is logged, not
 * applied), `credential-compromise` and
 * `token-claims-change` revoke the person's earlier tokens, Baton `tokens-revoked` from the identity
 * provider revokes each token's grant (everything exchanged from it). Each revocation takes the
 * broker's one audited path (`broker.revoke`, actor `ssf:<issuer>`), so every receiver of the broker
 * hears of it. The SET is acknowledged (`202`) only once every revocation is durable; a failure is
 * `503`, so the identity provider sends it again.
 */
export function identityProviderSignalsEndpoint(input: IdentityProviderSignalsInput): FetchEndpoint {
  const trusted = new Map(input.options.issuers.map((entry) => [entry.issuer, entry]));
  if (trusted.size === 0)
    throw new TypeError('identityProviderSignals.issuers must name at least one issuer');
  const keys = new Map<string, JWTVerifyGetKey>();
  const keysOf = async (issuer: string): Promise<JWTVerifyGetKey> => {
    let found = keys.get(issuer);
    if (!found) {
      const jwksUri = trusted.get(issuer)?.jwksUri ?? (await input.jwksUriOf(issuer));
      found = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      keys.set(issuer, found);
    }
    return found;
  };
  const verify = async (jwt: string): Promise<VerifiedSet> => {
    let issuer: unknown;
    try {
      issuer = decodeJwt(jwt).iss;
    } catch {
      throw new SetRefused('invalid_request', 'malformed', 'the SET is not a JWT');
    }
    if (typeof issuer !== 'string' || !trusted.has(issuer)) {
      throw new SetRefused(
        'invalid_issuer',
        'issuer_invalid',
        'the SET is not from a trusted identity provider',
      );
    }
    // The jti is taken only once the SET is applied (see `receive`): a SET whose revocation failed
    // (answered 503) is taken when the identity provider sends it again, not refused as a replay.
    return verifySecurityEventToken(jwt, {
      issuer,
      audience: input.audience,
      keys: await keysOf(issuer),
      replay: { claim: () => true },
    });
  };
  /** Remembers a SET as applied, for as long as it could be replayed. */
  const claim = (set: VerifiedSet) => input.applied.add(replayKey(set), set.iat + REPLAY_WINDOW_SECONDS);
  const homes = new Map((input.homeDomains ?? []).map((home) => [home.issuer, home]));
  const receive = async (set: VerifiedSet): Promise<void> => {
    const now = Math.floor(Date.now() / 1000);
    const home = homes.get(set.issuer);
    const named = (id: string) => (home ? qualified({ home: home.issuer, tenants: [] }, id) : id);
    for (const event of set.events) {
      if (!IDENTITY_PROVIDER_EVENTS.has(event.type)) {
        throw new SetRefused(
          'invalid_request',
          'event_unsupported',
          'the broker takes CAEP and RISC events from identity providers',
        );
      }
    }
    // Once: a SET seen before is refused before anything is applied (a replayed session-revoked would
    // move the person's cut-off again), and taken only once applied (one that failed, answered 503,
    // is applied when the provider sends it again).
    if (await input.applied.has(replayKey(set))) {
      throw new SetRefused('invalid_request', 'jti_replayed', 'this SET was received before');
    }
    for (const event of set.events) {
      if (event.type === EVENT_TYPES.verification || event.type === EVENT_TYPES.streamUpdated) continue;
      let change: ReturnType<typeof revocationsOfEvent>;
      try {
        change = revocationsOfEvent(event, set.iat, { retainSeconds: 0 });
      } catch {
        throw new SetRefused(
          'invalid_request',
          'events_invalid',
          'an event does not conform to its definition',
        );
      }
      const by = { actor: `ssf:${set.issuer}`, reason: eventName(event.type) };
      for (const revocation of change.add) {
        switch (revocation.kind) {
          case 'subject':
            // The cut-off is at least now: a token the broker minted after the identity provider's
            // event but before this receipt (the provider's clock behind, a slow delivery) is covered.
            await input.revoke(
              {
                subject: named(revocation.value),
                ...(revocation.before !== undefined ? { before: Math.max(revocation.before, now + 1) } : {}),
              },
              by,
            );
            break;
          case 'session':
            await input.revoke({ session: named(revocation.value) }, by);
            break;
          case 'jti':
            // The identity provider's own token: the root of every grant exchanged from it (a home
            // broker's grant: the root of what this broker issued from it, see `jwt-bearer/checks/revoked.ts`).
            await input.revoke({ root: `${set.issuer}#${revocation.value}` }, by);
            break;
        }
      }
      // Lifting is the operator's decision (admin API, `baton revoke --lift`, SCIM activation): an
      // identity provider's `account-enabled` is taken and logged, not applied, so that neither a late
      // or replayed one nor one about a person an operator disabled can undo a disable.
      for (const lifted of change.lift)
        input.onLiftNotApplied?.({ kind: lifted.kind, value: lifted.value, by: by.actor });
    }
    await claim(set);
  };
  const handler = setPushHandler({
    verify,
    receive,
    ...(input.options.authorization ? { authorization: input.options.authorization } : {}),
    onRefused: (refusal) => input.onRefused?.(refusal),
    onerror: (error) => input.onError?.(error),
  });
  return {
    handles: (path) => path === IDENTITY_PROVIDER_SIGNALS_PATH,
    handle: handler,
    maxBodyBytes: 65_536,
    tooLarge: () =>
      Response.json(
        { err: 'invalid_request', description: 'the body is too large' },
        { status: 400, headers: { 'cache-control': 'no-store' } },
      ),
  };
}

/** The event type's last path segment (`session-revoked`, `account-disabled`, …), for the audit's reason. */
function eventName(type: string): string {
  return type.slice(Math.max(type.lastIndexOf('/'), type.lastIndexOf(':')) + 1);
}
