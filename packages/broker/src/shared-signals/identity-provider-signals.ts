import {
  EVENT_TYPES,
  type ReplayGuard,
  revocationsOfEvent,
  SetRefused,
  setPushHandler,
  type VerifiedSet,
  verifySecurityEventToken,
} from '@baton/shared-signals';
import { createRemoteJWKSet, decodeJwt, type JWTVerifyGetKey } from 'jose';
import type { FetchEndpoint } from '../endpoints/fetch-endpoint.ts';
import type { LiftTarget, RevocationTarget } from '../registry/token-registry.ts';
import type { RevocationActor } from '../revocation/operator-revocation.ts';

/** `startBroker({ identityProviderSignals })`: the broker receives its identity providers' SETs. */
export interface IdentityProviderSignalsOptions {
  /**
   * The identity providers whose Security Event Tokens are taken (each one of `trustedIssuers`), with
   * where their keys are (default: the `jwks_uri` of their metadata). A SET from any other issuer is
   * refused `invalid_issuer`.
   */
  issuers: readonly { issuer: string; jwksUri?: string }[];
  /**
   * The exact `Authorization` value each push must carry, compared in constant time (the
   * `authorization_header` you configure at the identity provider). Default: none, the SET's
   * signature, audience and single use authenticate it.
   */
  authorization?: string;
}

/** Where identity providers push (RFC 8935): `<issuer>/ssf/receiver`. */
export const IDENTITY_PROVIDER_SIGNALS_PATH = '/ssf/receiver';

/** An `account-enabled` this much older than now is not applied (a replayed lift, after a later disable). */
const LIFT_MAX_AGE_SECONDS = 600;

export interface IdentityProviderSignalsInput {
  /** The broker's issuer: the `aud` every SET must carry. */
  audience: string;
  options: IdentityProviderSignalsOptions;
  /** Shared by every instance (oidc-provider's replay detection), so a SET is applied once. */
  replay: ReplayGuard;
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
 * RISC `account-disabled` disables the person until `account-enabled`, `credential-compromise` and
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
    return verifySecurityEventToken(jwt, {
      issuer,
      audience: input.audience,
      keys: await keysOf(issuer),
      replay: input.replay,
    });
  };
  const receive = async (set: VerifiedSet): Promise<void> => {
    const now = Math.floor(Date.now() / 1000);
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
            await input.revoke(
              {
                subject: revocation.value,
                ...(revocation.before !== undefined ? { before: revocation.before } : {}),
              },
              by,
            );
            break;
          case 'session':
            await input.revoke({ session: revocation.value }, by);
            break;
          case 'client':
            await input.revoke({ client: revocation.value }, by);
            break;
          case 'jti':
            // The identity provider's own token: the root of every grant exchanged from it.
            await input.revoke({ root: `${set.issuer}#${revocation.value}` }, by);
            break;
        }
      }
      for (const lifted of change.lift) {
        if (set.iat < now - LIFT_MAX_AGE_SECONDS) {
          throw new SetRefused(
            'invalid_request',
            'too_old',
            'an account-enabled event this old is not applied',
          );
        }
        if (lifted.kind === 'subject' || lifted.kind === 'client') {
          await input.lift(
            lifted.kind === 'subject' ? { subject: lifted.value } : { client: lifted.value },
            by,
          );
        }
      }
    }
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
