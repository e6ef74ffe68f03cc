import { ACCESS_TOKEN_TYPE } from '@baton/broker-client';
import { isBatonError } from '@baton/core';
import { tokenProvenance } from '@baton/resource-server';
import type { PlatformTokenSource } from '../../audience.ts';
import { type Issued, onwardTraceparent } from '../../grants/audited-grant.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Exchanged } from '../exchanged.ts';

/**
 * Issues the platform's own token for the person (`on_behalf_of` to an audience with a `platform`
 * connector), obtained by the connector after Baton's checks and policy. An unreachable platform is a
 * 503 the client may retry; any other failure is the platform refusing (`invalid_target`).
 */
export async function issuePlatformToken(platform: PlatformTokenSource, state: Exchanged): Promise<Issued> {
  const { sub, tenant, granted, subjectToken, subject, client, trace, now } = state;
  let platformToken: { accessToken: string; expiresAt: number; scope?: string; platformSubject?: string };
  try {
    platformToken = await platform.token({
      user: { sub, tenant },
      scopes: granted,
      subjectToken,
      traceparent: onwardTraceparent(trace),
      // The subject token's session, jti and chain, and the client asking: what a revocation can name.
      provenance: tokenProvenance(subject.claims, { obtainedBy: client.clientId }),
    });
  } catch (error) {
    const code = isBatonError(error) ? error.code : 'error';
    if (code === 'ERR_CONNECTOR_UNAVAILABLE') {
      throw refuse.unavailable(
        'platform_unavailable',
        'the platform could not be reached; try again later',
        code,
      );
    }
    throw refuse.target('platform_refused', 'the platform refused a token for this person', code);
  }
  return {
    scopes: granted,
    // Both identities in the audit: the person (the event's initiator) and whom they act as there.
    ...(typeof platformToken.platformSubject === 'string' && platformToken.platformSubject !== ''
      ? { platformSubject: platformToken.platformSubject }
      : {}),
    body: {
      access_token: platformToken.accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: Math.max(0, platformToken.expiresAt - now),
      ...(platformToken.scope
        ? { scope: platformToken.scope }
        : granted.length
          ? { scope: granted.join(' ') }
          : {}),
    },
  };
}
