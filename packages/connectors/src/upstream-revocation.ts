import type { Authenticator } from './client-authentication.ts';
import { checkTokenEndpoint } from './endpoint-options.ts';
import {
  type PlatformTokenRevoker,
  platformTokenRevoker,
  type UpstreamRevocationOptions,
} from './token-revocation.ts';

/**
 * The revoker a connector hands its cache, from its options: none without `revocationEndpoint`. Checked
 * at construction: the endpoint must be https (or loopback http), must come with `revocations` (else
 * nothing would ever be revoked) and with `audit` (an upstream revocation is always recorded).
 */
export function upstreamRevoker(
  connector: string,
  options: UpstreamRevocationOptions & { revocations?: unknown },
  authenticate: Authenticator,
  timeoutMs: number,
): PlatformTokenRevoker | undefined {
  if (options.revocationEndpoint === undefined) return undefined;
  const endpoint = checkTokenEndpoint(options.revocationEndpoint, 'revocationEndpoint');
  if (options.revocations === undefined)
    throw new TypeError(
      'revocationEndpoint needs revocations: the list whose revocations it carries upstream',
    );
  if (options.audit === undefined || typeof options.audit.write !== 'function')
    throw new TypeError('revocationEndpoint needs audit: every upstream revocation is recorded');
  return platformTokenRevoker({
    connector,
    endpoint,
    authenticate,
    audit: options.audit,
    logger: options.logger,
    timeoutMs,
  });
}
