import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { createSecretFile, readSecretFile } from '@baton/core/node';
import { EnvelopeKeyRing } from '@baton/envelope';

const LABEL = 'envelope key file';

/**
 * The envelope signing key every instance of one MCP server signs with, so an API that fetches the
 * server's JWKS (through the load balancer, from whichever instance answers) verifies envelopes from
 * all of them. One private JWK in an owner-only file in `dir`, created by whichever instance starts
 * first (the others read the winner's). No rotation: the stand-in for `@baton/envelope`'s shared key
 * source, which replaces this function.
 */
export async function sharedEnvelopeKeys(dir: string): Promise<EnvelopeKeyRing> {
  const file = join(dir, 'orders-mcp-envelope-key.json');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await createSecretFile(file, JSON.stringify({ ...privateKey.export({ format: 'jwk' }), alg: 'ES256' }));
  const { text } = await readSecretFile(file, { label: LABEL });
  let jwk: Record<string, unknown>;
  try {
    jwk = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // JSON.parse quotes the text around the error: private key material.
    throw new Error(`${LABEL} ${file} is not a JSON private JWK`);
  }
  return EnvelopeKeyRing.fromPrivateJwk(jwk, { retentionSeconds: 900 });
}
