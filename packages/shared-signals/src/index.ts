export {
  DELIVERY_METHODS,
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
// Receiver side (issue #11): SET verification, the feed a boundary checks, push and poll delivery,
// SSF stream management. The Redis channel is the `./redis` subpath.
export {
  type AppliedSet,
  type ApplyOptions,
  applySet,
} from './receiver/apply.ts';
export {
  type ConnectedRevocationFeed,
  type ConnectRevocationFeedOptions,
  connectRevocationFeed,
} from './receiver/connect.ts';
export {
  type FeedSource,
  type FeedVerdict,
  RevocationFeed,
  type RevocationFeedOptions,
  type SourceFreshness,
  type StaleFallback,
} from './receiver/feed.ts';
export { PollClient, type PollClientOptions, PollFailed } from './receiver/poll-client.ts';
export {
  createPushEndpoint,
  type PushEndpointOptions,
  type PushHandler,
  type SetPushHandlerOptions,
  setPushHandler,
} from './receiver/push-endpoint.ts';
export {
  createStream,
  deleteStream,
  discoverTransmitter,
  readStream,
  requestVerification,
  type StreamClientOptions,
  type StreamConfiguration,
  StreamRequestFailed,
  type TransmitterMetadata,
} from './receiver/stream-client.ts';
export {
  REVOCATION_REASONS,
  type Revocation,
  type RevocationKind,
  type RevocationLift,
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
export { type SetErrorCode, type SetRefusalReason, SetRefused, setErrorOf } from './set/refused.ts';
export { MemoryReplayGuard, type MemoryReplayGuardOptions, type ReplayGuard } from './set/replay-guard.ts';
export {
  SET_ALGORITHMS,
  type SetVerifyOptions,
  type VerifiedSet,
  verifySecurityEventToken,
} from './set/verify.ts';
export { MemoryStreamStore } from './transmitter/memory-stream-store.ts';
export { type TransmitterEndpoints, transmitterEndpoints } from './transmitter/metadata.ts';
export type { SharedSignalsTransmitterOptions } from './transmitter/options.ts';
export { type PushOutcome, pushSet } from './transmitter/push.ts';
export { TransmitterRefusal, type TransmitterRefusalReason } from './transmitter/refusal.ts';
export {
  type SqlStreamPool,
  SqlStreamStore,
  type SqlStreamStoreOptions,
} from './transmitter/sql-stream-store.ts';
export type {
  QueuedSet,
  StoredStream,
  StreamDelivery,
  StreamStatus,
} from './transmitter/stream.ts';
export type { SetToQueue, StreamStore } from './transmitter/stream-store.ts';
export { type PublishResult, SharedSignalsTransmitter } from './transmitter/transmitter.ts';
