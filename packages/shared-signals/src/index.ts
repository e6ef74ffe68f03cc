export {
  EVENT_TYPES,
  type EventsOfRevocationOptions,
  type EventType,
  eventsOfRevocations,
  REVOCATION_EVENT_TYPES,
  type RevocationChange,
  type RevocationsOfEventOptions,
  revocationsOfEvent,
  type SecurityEvent,
  type SubjectIdentifier,
} from './events.ts';
export {
  type FollowRevocationsOptions,
  followRevocations,
  type RevocationFollower,
  type RevocationFollowing,
  type RevocationTest,
  revocationTest,
  type TokenProvenance,
} from './follow.ts';
export {
  REVOCATION_REASONS,
  type Revocation,
  type RevocationKind,
  RevocationList,
  type RevocationListener,
  type RevocationListOptions,
  type RevocationReason,
  type RevokedToken,
} from './revocation.ts';
