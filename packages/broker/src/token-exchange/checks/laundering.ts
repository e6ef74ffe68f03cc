import { sameResource } from '@baton/resource-server';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { ExchangingClient } from './client.ts';
import type { Subject } from './subject.ts';

/**
 * Check, no laundering: the subject token must have been issued to this client (one of its
 * `baton_resources` is in the token's audience), or name it in `may_act`. RFC 8693 §4.4 identifies the
 * actor by `sub` and `iss` together; this client is (`sub` = its client id, `iss` = this broker). A
 * `may_act` without `iss` is refused: a bare `sub` could name a party of the same id at any other issuer.
 */
export function noLaundering(brokerIssuer: string): Check<GrantRequest & ExchangingClient & Subject, object> {
  return ({ clientId, ownResources, subject }) => {
    const mayAct = subject.claims.claims.may_act as { sub?: unknown; iss?: unknown } | undefined;
    if (mayAct !== undefined) {
      if (mayAct?.sub !== clientId || (mayAct.iss !== undefined && mayAct.iss !== brokerIssuer)) {
        throw refuse.request('may_act_mismatch', 'subject_token names another party in may_act');
      }
      if (mayAct.iss === undefined) {
        throw refuse.request(
          'may_act_issuer_missing',
          'may_act must identify the actor by sub and iss (RFC 8693 section 4.4)',
        );
      }
    }
    const issuedForClient = subject.claims.audience.some((aud) =>
      ownResources.some((own) => sameResource(own, aud)),
    );
    if (!issuedForClient && mayAct === undefined) {
      throw refuse.request('subject_not_for_client', 'subject_token was not issued for this client');
    }
    return {};
  };
}
