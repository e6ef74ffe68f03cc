import { join } from 'node:path';
import { SharedEnvelopeKeys } from '@baton/envelope';

/**
 * The envelope signing keys every instance of one MCP server signs with, so an API that fetches the
 * server's JWKS (through the load balancer, from whichever instance answers) verifies envelopes from
 * all of them: `@baton/envelope`'s shared key file (owner-only, in `dir`), created by whichever
 * instance starts first, re-read by every instance so a rotation made by one reaches the others.
 */
export function sharedEnvelopeKeys(dir: string): Promise<SharedEnvelopeKeys> {
  return SharedEnvelopeKeys.fromKeyFile(join(dir, 'orders-mcp-envelope-keys.json'), {
    retentionSeconds: 900,
  });
}
