import { randomBytes } from 'node:crypto';
import type { Viewer } from '../tenant-scope.ts';

export interface Session {
  viewer: Viewer;
  /** Epoch milliseconds after which the session is refused. */
  expiresAt: number;
}

export type SessionLookup =
  | { ok: true; session: Session }
  | { ok: false; reason: 'session_unknown' | 'session_expired' };

/** Enough for the auditors of one console; the oldest session goes first beyond it. */
const MAX_SESSIONS = 10_000;

/**
 * Sessions kept on the server, named by a random 256-bit id: the cookie carries nothing but that id,
 * so there is nothing in it to forge or decrypt, and signing out ends the session for every copy of the
 * cookie. Sessions live in this process and end when it stops.
 */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(ttlSeconds: number, now: () => number = Date.now) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#now = now;
  }

  create(viewer: Viewer): { id: string; session: Session } {
    this.#sweep();
    const id = randomBytes(32).toString('base64url');
    const session = { viewer, expiresAt: this.#now() + this.#ttlMs };
    this.#sessions.set(id, session);
    return { id, session };
  }

  find(id: string): SessionLookup {
    const session = this.#sessions.get(id);
    if (!session) return { ok: false, reason: 'session_unknown' };
    if (this.#now() >= session.expiresAt) {
      this.#sessions.delete(id);
      return { ok: false, reason: 'session_expired' };
    }
    return { ok: true, session };
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, session] of this.#sessions) if (now >= session.expiresAt) this.#sessions.delete(id);
    // Insertion order is sign-in order: the first entry is the oldest.
    while (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
  }
}
