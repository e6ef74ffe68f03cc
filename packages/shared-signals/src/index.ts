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
  REVOCATION_REASONS,
  type Revocation,
  type RevocationKind,
  RevocationList,
  type RevocationListener,
  type RevocationListOptions,
  type RevocationReason,
  type RevokedToken,
} from './revocation.ts';
