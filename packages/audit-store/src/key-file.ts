import type { CheckpointPublicJwk } from './checkpoint-signer.ts';
import { readIfExists, writeFileAtomic } from './durable-fs.ts';

/**
 * The checkpoint keys file next to a log: a JWKS (`{"keys":[…]}`) with every public key that ever
 * signed one of its checkpoints, oldest first. Verification uses it unless the caller pins keys.
 */
export async function readKeyFile(path: string): Promise<unknown[]> {
  const bytes = await readIfExists(path);
  if (bytes === undefined) return [];
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { keys?: unknown };
    return Array.isArray(parsed.keys) ? parsed.keys : [];
  } catch {
    return [];
  }
}

/** Adds `jwk` (durably) unless a key with its `kid` is already listed; called before it signs anything. */
export async function publishKey(path: string, jwk: CheckpointPublicJwk): Promise<void> {
  const keys = await readKeyFile(path);
  if (keys.some((key) => (key as { kid?: unknown } | null)?.kid === jwk.kid)) return;
  await writeFileAtomic(path, `${JSON.stringify({ keys: [...keys, jwk] }, null, 2)}\n`);
}
