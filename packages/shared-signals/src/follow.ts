import type { RevocationFollower, RevocationTest, TokenProvenance } from '@baton/core/stores';
import type { RevocationList } from './revocation.ts';

export type { RevocationFollower, RevocationTest, TokenProvenance } from '@baton/core/stores';

/** A cache following a revocation list (`followRevocations`). */
export interface RevocationFollowing {
  /** Stops following: later revocations no longer drop entries. */
  stop(): void;
  /** Resolves once every drop begun so far has finished (failed drops went to `onError`). */
  settled(): Promise<void>;
}

export interface FollowRevocationsOptions {
  /** Told when a cache could not drop what a revocation covers (a store outage). Never sees a token. */
  onError?: (error: unknown) => void;
}

/**
 * Makes a cache drop every entry a revocation on `list` covers: those covered already, at once, and
 * those each later `add` covers, as it happens (one drop at a time). The cache is handed a live view of
 * the list (`revocationTest`), so an entry read after a revocation (another instance's shared copy) is
 * refused too. A lifted revocation restores nothing: what was dropped is obtained afresh.
 *
 * @example
 * const following = followRevocations(revocations, tokenCache);
 * revocations.add([{ kind: 'subject', value: 'bob' }]); // bob's cached tokens are dropped
 * await following.settled();
 */
export function followRevocations(
  list: RevocationList,
  cache: RevocationFollower,
  options: FollowRevocationsOptions = {},
): RevocationFollowing {
  const revoked = revocationTest(list);
  const failed = (error: unknown) => {
    try {
      options.onError?.(error);
    } catch {
      // A failing observer must not stop the next drop.
    }
  };
  // The first drop is called at once, so the cache refuses revoked entries before this returns.
  let queue = cache.dropRevoked(revoked).then(undefined, failed);
  const stop = list.onChange((change) => {
    if (change.added.length === 0) return;
    queue = queue.then(() => cache.dropRevoked(revoked)).then(undefined, failed);
  });
  return {
    stop: () => {
      stop();
    },
    settled: () => queue,
  };
}

/**
 * Whether `list` revokes a token of this provenance, by `RevocationList.check`'s rules: its person,
 * session, or any client of its chain, revoked before its `issuedAt` (or without one); or any of its
 * `tokenIds`. A full list revokes everything (it fails closed).
 */
export function revocationTest(list: RevocationList): RevocationTest {
  return (provenance: TokenProvenance) => {
    const iat = provenance.issuedAt === undefined ? {} : { iat: provenance.issuedAt };
    const claims: Record<string, unknown> = { ...iat };
    if (provenance.subject !== undefined) claims.sub = provenance.subject;
    if (provenance.session !== undefined) claims.sid = provenance.session;
    if (list.check(claims) !== undefined) return true;
    // Each client of the chain as an actor: `check` matches client revocations against `act.sub`.
    const clients = provenance.clients ?? [];
    if (clients.some((client) => list.check({ ...iat, act: { sub: client } }) !== undefined)) return true;
    return (provenance.tokenIds ?? []).some((jti) => list.check({ jti }) !== undefined);
  };
}
