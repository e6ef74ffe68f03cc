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
// Transmitter side (SSF 1.0 transmitter: SET minting, streams, push and poll delivery).
export {
  type MintSecurityEventTokenOptions,
  mintSecurityEventToken,
  SECEVENT_TYP,
  type SetSigningKey,
} from './set/mint.ts';
export { MemoryStreamStore } from './transmitter/memory-stream-store.ts';
export { type TransmitterEndpoints, transmitterEndpoints } from './transmitter/metadata.ts';
export type { SharedSignalsTransmitterOptions } from './transmitter/options.ts';
export { TransmitterRefusal, type TransmitterRefusalReason } from './transmitter/refusal.ts';
export {
  type SqlStreamPool,
  SqlStreamStore,
  type SqlStreamStoreOptions,
} from './transmitter/sql-stream-store.ts';
export {
  DELIVERY_METHODS,
  type QueuedSet,
  type StoredStream,
  type StreamDelivery,
  type StreamStatus,
} from './transmitter/stream.ts';
export type { SetToQueue, StreamStore } from './transmitter/stream-store.ts';
export { type PublishResult, SharedSignalsTransmitter } from './transmitter/transmitter.ts';
