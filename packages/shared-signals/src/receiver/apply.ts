import { EVENT_TYPES, type RevocationChange, revocationsOfEvent, type SecurityEvent } from '../events.ts';
import { SetRefused } from '../set/refused.ts';
import type { VerifiedSet } from '../set/verify.ts';
import type { FeedSource, RevocationFeed } from './feed.ts';

export interface ApplyOptions {
  /** Passed to `revocationsOfEvent`: the longest token lifetime this receiver accepts, seconds. */
  retainSeconds?: number;
  /** Told of every applied SET: its `jti`, event types and the change (for audit). Never the SET. */
  onApplied?: (applied: AppliedSet) => void;
}

/** What a receiver did with one SET. */
export interface AppliedSet {
  jti: string;
  types: SecurityEvent['type'][];
  change: RevocationChange;
}

/**
 * Applies a verified SET to the feed: every event is read first (an event that cannot be read refuses
 * the whole SET with `invalid_request`, nothing applied), then the revocations are added and lifted.
 * A verification event is recorded; a stream-updated event whose status is not `enabled` keeps the
 * feed stale until one says `enabled` (nothing comes meanwhile). Any valid SET marks the source heard.
 */
export function applySet(
  feed: RevocationFeed,
  source: FeedSource,
  set: VerifiedSet,
  options: ApplyOptions = {},
): AppliedSet {
  const change: RevocationChange = { add: [], lift: [] };
  let streamEnabled: boolean | undefined;
  let verification: string | undefined;
  for (const event of set.events) {
    if (event.type === EVENT_TYPES.verification) {
      verification = typeof event.payload.state === 'string' ? event.payload.state : '';
      continue;
    }
    if (event.type === EVENT_TYPES.streamUpdated) {
      streamEnabled = event.payload.status === 'enabled';
      continue;
    }
    try {
      const one = revocationsOfEvent(event, set.iat, { retainSeconds: options.retainSeconds });
      change.add.push(...one.add);
      change.lift.push(...one.lift);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw new SetRefused(
        'invalid_request',
        'events_invalid',
        'an event does not conform to its definition',
        {
          detail: event.type,
        },
      );
    }
  }
  if (change.lift.length) feed.list.lift(change.lift);
  if (change.add.length) feed.list.add(change.add);
  if (verification !== undefined) feed.verified(verification);
  if (streamEnabled !== undefined) source.streamEnabled(streamEnabled);
  source.heard();
  const applied = { jti: set.jti, types: set.events.map((event) => event.type), change };
  try {
    options.onApplied?.(applied);
  } catch {
    // An audit hook that fails must not undo or block a revocation.
  }
  return applied;
}
