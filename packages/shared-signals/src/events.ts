import type { Revocation, RevocationLift } from './revocation.ts';

/**
 * The event types Baton transmits and receives. CAEP 1.0 and RISC 1.0 where a standard event says
 * what happened; two Baton events (URNs, as RFC 8417 §2.2 allows any URI) for what no standard event
 * names: tokens revoked one by one (RFC 7009 or a whole grant) and a revoked client.
 */
export const EVENT_TYPES = Object.freeze({
  sessionRevoked: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  tokenClaimsChange: 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change',
  accountDisabled: 'https://schemas.openid.net/secevent/risc/event-type/account-disabled',
  accountEnabled: 'https://schemas.openid.net/secevent/risc/event-type/account-enabled',
  credentialCompromise: 'https://schemas.openid.net/secevent/risc/event-type/credential-compromise',
  verification: 'https://schemas.openid.net/secevent/ssf/event-type/verification',
  streamUpdated: 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated',
  tokensRevoked: 'urn:baton:secevent:tokens-revoked',
  clientRevoked: 'urn:baton:secevent:client-revoked',
  clientEnabled: 'urn:baton:secevent:client-enabled',
});

/** SSF 1.0 delivery methods: push (RFC 8935) and poll (RFC 8936). */
export const DELIVERY_METHODS = Object.freeze({
  push: 'urn:ietf:rfc:8935',
  poll: 'urn:ietf:rfc:8936',
});

export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** The event types that carry revocations (everything but the stream's own). */
export const REVOCATION_EVENT_TYPES: readonly EventType[] = Object.freeze([
  EVENT_TYPES.sessionRevoked,
  EVENT_TYPES.tokenClaimsChange,
  EVENT_TYPES.accountDisabled,
  EVENT_TYPES.accountEnabled,
  EVENT_TYPES.credentialCompromise,
  EVENT_TYPES.tokensRevoked,
  EVENT_TYPES.clientRevoked,
  EVENT_TYPES.clientEnabled,
]);

/** RFC 9493 subject identifiers (and SSF 1.0's `complex`) as Baton reads and writes them. */
export type SubjectIdentifier =
  | { format: 'iss_sub'; iss: string; sub: string }
  | { format: 'opaque'; id: string }
  | { format: 'email'; email: string }
  | { format: 'jwt_id'; iss: string; jti: string }
  | {
      format: 'complex';
      user?: SubjectIdentifier;
      session?: SubjectIdentifier;
      application?: SubjectIdentifier;
    };

/** One security event as carried in a SET's `events` claim, with the SET's `sub_id` beside it. */
export interface SecurityEvent {
  type: EventType;
  subject: SubjectIdentifier;
  /** The event's own claims (`event_timestamp`, `reason_admin`, `initiating_entity`, `tokens`, …). */
  payload: Record<string, unknown>;
}

/** Tokens per Baton `tokens-revoked` event (about 9 KB of SET). */
const TOKENS_PER_EVENT = 100;

export interface EventsOfRevocationOptions {
  /** The issuer whose `sub` and `sid` values these are (the identity provider's, which the broker preserves). */
  subjectIssuer: string;
  /** When the revocation happened, Unix seconds (CAEP's `event_timestamp`). */
  at: number;
  /** CAEP/RISC `initiating_entity`: `admin`, `user`, `policy` or `system`. */
  initiatingEntity?: 'admin' | 'user' | 'policy' | 'system';
  /** Free text for operators (`reason_admin`); never a token. */
  reasonAdmin?: string;
  /**
   * Revocations lifted (a subject or client enabled again): RISC `account-enabled`, Baton
   * `client-enabled`. Other kinds cannot be lifted and are ignored.
   */
  lifted?: readonly RevocationLift[];
}

/**
 * The security events that carry receiver revocations (the broker's transmitter): a subject revoked
 * before an instant is CAEP `session-revoked` for the user; a disabled subject is RISC
 * `account-disabled`; a session is CAEP `session-revoked` with a `complex` subject; tokens go as one
 * Baton `tokens-revoked` event; a client as Baton `client-revoked`. A lifted subject is RISC
 * `account-enabled`, a lifted client Baton `client-enabled`.
 */
export function eventsOfRevocations(
  revocations: readonly Revocation[],
  options: EventsOfRevocationOptions,
): SecurityEvent[] {
  const common = {
    event_timestamp: options.at,
    ...(options.initiatingEntity ? { initiating_entity: options.initiatingEntity } : {}),
    ...(options.reasonAdmin ? { reason_admin: { en: options.reasonAdmin } } : {}),
  };
  const events: SecurityEvent[] = [];
  const tokens: { jti: string; exp?: number }[] = [];
  for (const revocation of revocations) {
    const user = { format: 'iss_sub', iss: options.subjectIssuer, sub: revocation.value } as const;
    switch (revocation.kind) {
      case 'jti':
        tokens.push({
          jti: revocation.value,
          ...(revocation.until !== undefined ? { exp: revocation.until } : {}),
        });
        break;
      case 'subject':
        events.push(
          revocation.before === undefined
            ? { type: EVENT_TYPES.accountDisabled, subject: user, payload: { ...common } }
            : {
                type: EVENT_TYPES.sessionRevoked,
                subject: user,
                payload: { ...common, event_timestamp: revocation.before - 1 },
              },
        );
        break;
      case 'session':
        events.push({
          type: EVENT_TYPES.sessionRevoked,
          subject: { format: 'complex', session: { format: 'opaque', id: revocation.value } },
          payload: { ...common },
        });
        break;
      case 'client':
        events.push({
          type: EVENT_TYPES.clientRevoked,
          subject: { format: 'opaque', id: revocation.value },
          payload: { ...common, ...(revocation.before !== undefined ? { before: revocation.before } : {}) },
        });
        break;
    }
  }
  for (const lifted of options.lifted ?? []) {
    if (lifted.kind === 'subject') {
      events.push({
        type: EVENT_TYPES.accountEnabled,
        subject: { format: 'iss_sub', iss: options.subjectIssuer, sub: lifted.value },
        payload: { ...common },
      });
    } else if (lifted.kind === 'client') {
      events.push({
        type: EVENT_TYPES.clientEnabled,
        subject: { format: 'opaque', id: lifted.value },
        payload: { ...common },
      });
    }
  }
  // One SET per 100 tokens: a grant with many tokens stays within every receiver's body limit (64 KiB).
  const chunks: SecurityEvent[] = [];
  for (let start = 0; start < tokens.length; start += TOKENS_PER_EVENT) {
    const chunk = tokens.slice(start, start + TOKENS_PER_EVENT);
    chunks.push({
      type: EVENT_TYPES.tokensRevoked,
      subject: { format: 'opaque', id: chunk[0]!.jti },
      payload: { ...common, tokens: chunk },
    });
  }
  events.unshift(...chunks);
  return events;
}

export interface RevocationsOfEventOptions {
  /**
   * How long after `before` a token issued before it can still be valid: the longest token lifetime
   * this receiver accepts, seconds. Entries for subjects, sessions and clients are kept that long.
   * Default 86,400 (one day).
   */
  retainSeconds?: number;
}

/** What one received event does to a receiver's revocation list. */
export interface RevocationChange {
  add: Revocation[];
  lift: RevocationLift[];
}

/**
 * Reads one received, verified security event into revocations (the receivers' side of
 * `eventsOfRevocations`, and the identity provider's CAEP and RISC events). `issuedAt` is the SET's `iat`,
 * used when the event has no `event_timestamp`. An event this cannot read (unknown type or subject
 * format, a missing field) throws `TypeError`: the caller answers RFC 8935's `invalid_request`.
 */
export function revocationsOfEvent(
  event: SecurityEvent,
  issuedAt: number,
  options: RevocationsOfEventOptions = {},
): RevocationChange {
  const retain = options.retainSeconds ?? 86_400;
  const timestamp =
    typeof event.payload.event_timestamp === 'number' ? event.payload.event_timestamp : issuedAt;
  // A token issued in the same second as the event is refused too: iat has one-second resolution.
  const before = Math.floor(timestamp) + 1;
  /** When it happened: orders a lift against the revocation it meets (see `RevocationList.lift`). */
  const at = Math.floor(timestamp);
  const user = userOf(event.subject);
  const session = sessionOf(event.subject);
  switch (event.type) {
    case EVENT_TYPES.sessionRevoked:
      if (session)
        return { add: [{ kind: 'session', value: session, until: before + retain, at }], lift: [] };
      return {
        add: [{ kind: 'subject', value: required(user, 'user'), before, until: before + retain, at }],
        lift: [],
      };
    case EVENT_TYPES.tokenClaimsChange:
    case EVENT_TYPES.credentialCompromise:
      return {
        add: [{ kind: 'subject', value: required(user, 'user'), before, until: before + retain, at }],
        lift: [],
      };
    case EVENT_TYPES.accountDisabled:
      return { add: [{ kind: 'subject', value: required(user, 'user'), at }], lift: [] };
    case EVENT_TYPES.accountEnabled:
      return { add: [], lift: [{ kind: 'subject', value: required(user, 'user'), at }] };
    case EVENT_TYPES.clientRevoked: {
      if (event.subject.format !== 'opaque') throw new TypeError('client-revoked needs an opaque subject');
      const clientBefore = event.payload.before;
      return {
        add: [
          typeof clientBefore === 'number'
            ? {
                kind: 'client',
                value: event.subject.id,
                before: clientBefore,
                until: clientBefore + retain,
                at,
              }
            : { kind: 'client', value: event.subject.id, at },
        ],
        lift: [],
      };
    }
    case EVENT_TYPES.clientEnabled:
      if (event.subject.format !== 'opaque') throw new TypeError('client-enabled needs an opaque subject');
      return { add: [], lift: [{ kind: 'client', value: event.subject.id, at }] };
    case EVENT_TYPES.tokensRevoked: {
      const tokens = event.payload.tokens;
      if (!Array.isArray(tokens) || tokens.length === 0) throw new TypeError('tokens-revoked without tokens');
      return {
        add: tokens.map((token: unknown) => {
          const { jti, exp } = (token ?? {}) as { jti?: unknown; exp?: unknown };
          if (typeof jti !== 'string' || jti === '') throw new TypeError('tokens-revoked entry without jti');
          return { kind: 'jti', value: jti, until: typeof exp === 'number' ? exp : before + retain, at };
        }),
        lift: [],
      };
    }
    default:
      throw new TypeError(`event type ${event.type} carries no revocation`);
  }
}

function userOf(subject: SubjectIdentifier): string | undefined {
  if (subject.format === 'iss_sub') return subject.sub;
  if (subject.format === 'complex' && subject.user?.format === 'iss_sub') return subject.user.sub;
  return undefined;
}

function sessionOf(subject: SubjectIdentifier): string | undefined {
  if (subject.format !== 'complex' || !subject.session) return undefined;
  return subject.session.format === 'opaque' ? subject.session.id : undefined;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new TypeError(`the event's subject names no ${what} (iss_sub)`);
  return value;
}
