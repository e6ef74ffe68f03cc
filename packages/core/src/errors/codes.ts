/**
 * Every code a Baton failure carries, by the package that throws it: one closed list someone can
 * enumerate. Callers branch on `code`, never on `message`; messages may change, codes do not.
 * Protocol refusals (RFC `error` codes) are listed in `refusal-errors.ts`.
 */

/** `@baton/audit-store`. */
export type AuditStoreErrorCode =
  /** PostgreSQL could not take the event. It is already durable in the local outbox and will be drained. */
  | 'ERR_AUDIT_STORE_UNAVAILABLE'
  /** The local file (log or outbox) could not make the event durable; the store refuses further writes. */
  | 'ERR_AUDIT_STORE_WRITE_FAILED'
  /** `write` after `close`. */
  | 'ERR_AUDIT_STORE_CLOSED'
  /** Another live process (or another store in this one) holds this writer's files. */
  | 'ERR_AUDIT_STORE_LOCKED'
  /** On open, the existing log did not verify: the error's `report` says where. */
  | 'ERR_AUDIT_LOG_TAMPERED'
  /** PostgreSQL already holds a different chain for this writer (two processes, or a lost outbox). */
  | 'ERR_AUDIT_STORE_WRITER_CONFLICT'
  /**
   * PostgreSQL refused a batch of outbox records for a reason no retry can fix (SQLSTATE class 22 data
   * exception, 23 integrity violation, 54 program limit exceeded). Draining stops until an operator
   * intervenes; the records stay in the outbox.
   */
  | 'ERR_AUDIT_STORE_REJECTED'
  /** The event cannot be stored as given (not an audit event shape, or a string PostgreSQL cannot hold). */
  | 'ERR_AUDIT_EVENT_INVALID'
  /**
   * A directory or file of the store is owned by another account, or is not a directory / regular file:
   * its owner could open it to others at any time, so the store does not use it.
   */
  | 'ERR_AUDIT_STORE_INSECURE';

/** `@baton/broker` (its own failures; what a client is told is a protocol refusal). */
export type BrokerErrorCode =
  /** A registry or replay store operation outlived its deadline; treated like any other store failure. */
  | 'ERR_BROKER_STORE_TIMEOUT'
  /** The embedded store's data directory is already open in another broker (one process per directory). */
  | 'ERR_BROKER_STORE_LOCKED'
  /** The embedded store's data directory is a symbolic link or another account's: the store does not use it. */
  | 'ERR_BROKER_STORE_INSECURE'
  /** An outbound fetch (client metadata, JWKS) named a host off the broker's fetch allow-list. */
  | 'ERR_BROKER_FETCH_REFUSED'
  /** A subject or actor token did not verify; its `reason` says why, its description is public. */
  | 'ERR_BROKER_INPUT_TOKEN_INVALID'
  /** A revocation is in force at the broker but its Security Event Tokens could not be queued for every receiver. */
  | 'ERR_BROKER_REVOCATION_NOT_TRANSMITTED';

/** `@baton/broker-client`. */
export type BrokerClientErrorCode =
  /** The broker refused a token request; the error's `status` and `error` are the broker's answer. */
  'ERR_TOKEN_REQUEST_REFUSED';

/** `@baton/connectors`. */
export type ConnectorErrorCode =
  /** The platform answered with an OAuth error (`oauthError` says which). */
  | 'ERR_CONNECTOR_REFUSED'
  /** The platform could not be reached, timed out, or answered 5xx/429. */
  | 'ERR_CONNECTOR_UNAVAILABLE'
  /** The Baton user has no identity on the platform. */
  | 'ERR_CONNECTOR_IDENTITY_UNMAPPED'
  /** An on-behalf-of request without the user's token. */
  | 'ERR_CONNECTOR_SUBJECT_TOKEN_MISSING'
  /** The platform answered 2xx with something that is not a token response. */
  | 'ERR_CONNECTOR_BAD_RESPONSE';

/** `@baton/envelope`: every reason an envelope can be refused or not built. */
export type EnvelopeErrorCode =
  | 'ERR_ENVELOPE_MALFORMED'
  | 'ERR_ENVELOPE_ALG_NOT_ALLOWED'
  | 'ERR_ENVELOPE_TYP_INVALID'
  | 'ERR_ENVELOPE_KEY_UNKNOWN'
  | 'ERR_ENVELOPE_SIGNATURE_INVALID'
  | 'ERR_ENVELOPE_ISSUER_INVALID'
  | 'ERR_ENVELOPE_TRUST_DOMAIN_INVALID'
  | 'ERR_ENVELOPE_EXPIRED'
  | 'ERR_ENVELOPE_NOT_YET_VALID'
  | 'ERR_ENVELOPE_LIFETIME_TOO_LONG'
  | 'ERR_ENVELOPE_CLAIMS_INVALID'
  /**
   * A shared key source cannot be used: its file is missing, unreadable, readable or writable by group
   * or others, a link, or not a key file; or it holds no usable signing key. Never quotes the file.
   */
  | 'ERR_ENVELOPE_KEYS_UNAVAILABLE'
  /**
   * A rotation that would sign with a key verifiers may not have yet: no staged key, one staged less
   * than `propagationSeconds` ago, or a read-only source (an operator's JWKS).
   */
  | 'ERR_ENVELOPE_ROTATION_REFUSED';

/** `@baton/mcp-server`: why a tool's downstream call was refused or failed. */
export type DownstreamErrorCode =
  | 'ERR_DOWNSTREAM_UNKNOWN_SERVICE'
  | 'ERR_DOWNSTREAM_NOT_ALLOWED'
  | 'ERR_DOWNSTREAM_NOT_CONFIGURED'
  | 'ERR_DOWNSTREAM_TOKEN_REFUSED'
  | 'ERR_DOWNSTREAM_UNAVAILABLE'
  /** The tool's path would leave the service's URL (another origin, or outside its path). */
  | 'ERR_DOWNSTREAM_PATH_REFUSED'
  /** The tool invocation this client was made for has ended (or its caller's token expired). */
  | 'ERR_DOWNSTREAM_INVOCATION_ENDED';

/** `@baton/vault`. */
export type VaultErrorCode =
  /**
   * A record failed authentication (ciphertext, tag, nonce, wrapped data key, entry id, expiry or
   * encoding changed). Never returns partial or garbage plaintext.
   */
  | 'ERR_VAULT_TAMPERED'
  /** An intact record sealed for a different entry id was found under this one (a swap or copy). */
  | 'ERR_VAULT_WRONG_ENTRY'
  /** The stored bytes are not a vault record at all. */
  | 'ERR_VAULT_RECORD_MALFORMED'
  /** A record of a format version this code does not read. */
  | 'ERR_VAULT_RECORD_UNSUPPORTED'
  /**
   * The key store cannot be used (key file missing or readable by others, HSM library, token, PIN or
   * key object missing). The vault fails closed: nothing is read or written.
   */
  | 'ERR_VAULT_KEY_UNAVAILABLE'
  /** The record names a key-encryption key the key store does not hold (retired, or another key store's). */
  | 'ERR_VAULT_KEY_UNKNOWN'
  /** Refusing to retire the current key-encryption key. */
  | 'ERR_VAULT_KEY_IN_USE'
  /** The backing store (PostgreSQL, Redis) failed; see `cause`. */
  | 'ERR_VAULT_STORE_FAILED';

/** `@baton/shared-signals`, receiver side. */
export type SharedSignalsReceiverErrorCode =
  /**
   * A Security Event Token was refused (RFC 8935 §2.4): the error's `err` is the RFC 8935 error code
   * the transmitter is answered with, its `reason` the stable private reason.
   */
  | 'ERR_SET_REFUSED'
  /** A poll request (RFC 8936) failed: unreachable, a non-2xx status, or not a poll response. Retried. */
  | 'ERR_SSF_POLL_FAILED'
  /** A stream management request (SSF 1.0 metadata, stream configuration, verification) failed or was answered with something unusable. */
  | 'ERR_SSF_STREAM_REQUEST_FAILED';

/** `@baton/workload-identity`. */
export type WorkloadIdentityErrorCode =
  /** A string is not a SPIFFE ID (SPIFFE-ID §2): the error's `reason` says which rule it breaks. */
  'ERR_SPIFFE_ID_INVALID';

/** Every Baton failure code (not protocol refusals). */
export type BatonFailureCode =
  | AuditStoreErrorCode
  | BrokerErrorCode
  | BrokerClientErrorCode
  | ConnectorErrorCode
  | EnvelopeErrorCode
  | DownstreamErrorCode
  | VaultErrorCode
  | SharedSignalsReceiverErrorCode
  | WorkloadIdentityErrorCode;
