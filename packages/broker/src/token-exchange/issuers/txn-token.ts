import { sessionOf } from '@baton/core';
import type { EnvelopeIssuer } from '@baton/envelope';
import type { Issued } from '../../grants/audited-grant.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import type { TxnTokenContext } from '../checks/txn-request.ts';
import type { Exchanged } from '../exchanged.ts';
import { txnTokenResponse } from '../response.ts';

/**
 * Issues an Execution Identity Envelope as a Transaction Token. It lives no longer than the policy and
 * the subject token allow (`lifetime`), and carries the exchange's own trace id, so it and the audit
 * record of this exchange correlate. It is recorded in the registry under its `jti` (the envelope id),
 * as the broker's access tokens are, so revoking its root grant, its subject or its session covers it.
 *
 * draft-ietf-oauth-transaction-tokens-10 §9.3: `aud` is the Trust Domain (the issuer's), `req_wl` the
 * client that asked, `tctx.details` and `rctx` what the request's `request_details` and
 * `request_context` asserted (checked by `txnTokenRequest`).
 */
export function txnTokenIssuer(envelopes: EnvelopeIssuer, registry: TokenRegistry) {
  return async function issueTxnToken(state: Exchanged & TxnTokenContext): Promise<Issued> {
    const { subjectType, sub, tenant, agent, subject, root, trace, granted, audience, lifetime } = state;
    const { details, requestContext } = state;
    const sid = subject.claims.claims.sid;
    const { envelope, token } = envelopes.mint(
      {
        actor: { type: subjectType, sub, tenant },
        agent: { type: 'ai_agent', id: agent, client_id: agent },
        session: { id: sessionOf(subject.claims, root), trace_id: trace.traceId },
        authorization: { scopes: [...granted], confidence: 'medium' },
        delegation: { mode: 'service_identity', allowed: [audience.resource] },
        ...(details === undefined ? {} : { details }),
        ...(requestContext === undefined ? {} : { request_context: requestContext }),
      },
      { ttlSeconds: lifetime, requestingWorkload: state.clientId },
    );
    await registry.record({
      jti: envelope.id,
      parent: state.parent,
      root: state.root,
      subject: sub,
      clientId: state.client.clientId,
      audience: audience.resource,
      exp: envelope.expires_at,
      // As for access tokens: a subject's cut-off (`before`) compares `iat`, and revoking the person's
      // identity-provider session finds its Txn-Tokens (and their replacements, its descendants).
      issuedAt: envelope.issued_at,
      ...(typeof sid === 'string' && sid ? { session: sid } : {}),
    });
    return txnTokenResponse(token, envelope, granted);
  };
}
