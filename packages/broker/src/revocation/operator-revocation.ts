import { type AuditSink, auditEventOf, newSpanId, newTraceId, type RevocationDetail } from '@baton/audit';
import { BatonError } from '@baton/core';
import type { Revocation, RevocationLift } from '@baton/shared-signals';
import {
  type LiftTarget,
  liftOf,
  type RevocationCoverage,
  type RevocationTarget,
  type TokenRegistry,
  targetOf,
} from '../registry/token-registry.ts';

/** How long a receiver keeps the entry for a revoked grant's identity-provider token (its `exp` unknown here). */
const IDENTITY_PROVIDER_TOKEN_RETAIN_SECONDS = 86_400;

/** Who revokes, and why: written to the audit event and handed to the transmitter. */
export interface RevocationActor {
  /** An operator client id, `scim:<client>`, `ssf:<issuer>`, or `rfc7009:<client>` for a client revoking its own token. */
  actor: string;
  /** Free text for operators (`reason_admin` in the events transmitted); never a token. */
  reason?: string;
}

/** What one revocation covered, and what receivers must be told. */
export interface RevokeResult {
  /** How many unexpired broker-issued tokens it covers (a registry count). */
  covered: number;
  /** In the Shared Signals contract: what every receiver adds to its revocation list. */
  revocations: Revocation[];
}

/**
 * A revocation in force at the broker that did not reach every receiver (the transmitter could not
 * queue it): revoke again; the broker already refuses what it covers.
 */
export class RevocationNotTransmitted extends BatonError<'ERR_BROKER_REVOCATION_NOT_TRANSMITTED'> {
  override readonly name = 'RevocationNotTransmitted';
  constructor() {
    super(
      'ERR_BROKER_REVOCATION_NOT_TRANSMITTED',
      'the revocation is in force at the broker but could not be sent to every receiver; revoke again',
    );
  }
}

/** A revocation written or lifted at the broker, as the transmitter needs it. */
export interface BrokerRevocationChange {
  added: readonly Revocation[];
  lifted: readonly RevocationLift[];
  actor: string;
  reason?: string;
  /** Unix seconds. */
  at: number;
}

/**
 * Told of every revocation and lift at this instance. A listener that returns a promise is awaited
 * (the transmitter queueing the SETs): `revoke` and `lift` reject when one fails, after the audit
 * records the failure, so the caller revokes again (revocation is idempotent) and no receiver is left
 * without it.
 */
export type BrokerRevocationListener = (change: BrokerRevocationChange) => unknown;

export interface OperatorRevocationOptions {
  registry: TokenRegistry;
  audit: AuditSink;
  /** The broker's issuer: the audit events' `component`. */
  issuer: string;
  /** The longest lifetime of a token the broker issues: how long a receiver keeps a subject or session entry. */
  maxLifetimeSeconds: number;
}

/**
 * Every revocation at the broker goes through here (the `revoke` API, the admin endpoint, RFC 7009,
 * and later SCIM and Shared Signals receivers): written to the registry, counted, audited (one event
 * each: who, what, why, how many tokens), and handed to the listeners as receiver revocations.
 */
export class OperatorRevocation {
  readonly #options: OperatorRevocationOptions;
  readonly #listeners = new Set<BrokerRevocationListener>();

  constructor(options: OperatorRevocationOptions) {
    this.#options = options;
  }

  /**
   * How long a receiver keeps a subject's or session's entry: the identity provider's tokens (which
   * carry the same `sub` and `sid`) may live longer than the broker's, and their lifetime is unknown here.
   */
  get #retainSeconds(): number {
    return Math.max(this.#options.maxLifetimeSeconds, IDENTITY_PROVIDER_TOKEN_RETAIN_SECONDS);
  }

  /** Calls `listener` after every revocation and lift; returns the function that stops it. */
  onRevocation(listener: BrokerRevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async revoke(target: RevocationTarget, by: RevocationActor): Promise<RevokeResult> {
    const { kind, value, before } = targetOf(target);
    assertActor(by);
    const started = performance.now();
    const at = Math.floor(Date.now() / 1000);
    const detail: RevocationDetail = {
      kind,
      ...(before !== undefined ? { before } : {}),
      ...(by.reason ? { note: by.reason } : {}),
    };
    let coverage: RevocationCoverage;
    try {
      coverage = await this.#options.registry.revoke(target, at);
    } catch (error) {
      await this.#audit('revocation', `${kind}:${value}`, by, detail, started, 'error');
      throw error;
    }
    const revocations = this.#receiverRevocations(kind, value, before, coverage, at);
    const told = await this.#tell({ added: revocations, lifted: [], actor: by.actor, ...reasonOf(by), at });
    await this.#audit(
      'revocation',
      `${kind}:${value}`,
      by,
      { ...detail, covered: coverage.covered },
      started,
      told ? 'ok' : 'error',
    );
    if (!told) throw new RevocationNotTransmitted();
    return { covered: coverage.covered, revocations };
  }

  /** Re-enables a subject or a client; true when a revocation was in force. */
  async lift(target: LiftTarget, by: RevocationActor): Promise<boolean> {
    const { kind, value } = liftOf(target);
    assertActor(by);
    const started = performance.now();
    const detail: RevocationDetail = { kind, ...(by.reason ? { note: by.reason } : {}) };
    let lifted: boolean;
    const at = Math.floor(Date.now() / 1000);
    try {
      // A disabled person is enabled from now on, in one write: the tokens issued before stay refused
      // (they may have been stolen while the person was disabled), as every receiver keeps them
      // (`RevocationList.lift`); a cut-off in the past is not undone, and lifting twice changes nothing.
      lifted = await this.#options.registry.lift(target, kind === 'subject' ? { before: at + 1 } : {});
    } catch (error) {
      await this.#audit('revocation.lift', `${kind}:${value}`, by, detail, started, 'error');
      throw error;
    }
    const told = await this.#tell({
      added: [],
      lifted: [{ kind, value, at }],
      actor: by.actor,
      ...reasonOf(by),
      at,
    });
    await this.#audit('revocation.lift', `${kind}:${value}`, by, detail, started, told ? 'ok' : 'error');
    if (!told) throw new RevocationNotTransmitted();
    return lifted;
  }

  /**
   * Every revocation in force, as receivers hold them: what a new Shared Signals stream is seeded with,
   * so a receiver that starts (or restarts) loses nothing. A token or grant revocation is asked of the
   * registry again (idempotent) for every token it covers now.
   */
  async inForce(): Promise<Revocation[]> {
    const at = Math.floor(Date.now() / 1000);
    const seeded: Revocation[] = [];
    for (const listed of await this.#options.registry.listRevocations({ tokens: true })) {
      const target = (
        listed.kind === 'subject'
          ? { subject: listed.value, ...(listed.before !== undefined ? { before: listed.before } : {}) }
          : { [listed.kind]: listed.value }
      ) as RevocationTarget;
      const coverage =
        listed.kind === 'jti' || listed.kind === 'root'
          ? await this.#options.registry.revoke(target, at)
          : { covered: 0, tokens: [] };
      for (const revocation of this.#receiverRevocations(
        listed.kind,
        listed.value,
        listed.before,
        coverage,
        at,
      )) {
        // A token past its `exp` needs no entry; a subject's or session's entry is kept by each receiver
        // for the longest lifetime it accepts (its `retainSeconds`), which the broker does not know.
        if (revocation.kind !== 'jti' || (revocation.until ?? Number.POSITIVE_INFINITY) > at)
          seeded.push(revocation);
      }
    }
    return seeded;
  }

  /**
   * What receivers must hold: a token revocation as every jti it covers (the identity provider's own
   * jti too, for a grant); a subject, session or client as one entry. `until` is when the entry may be
   * forgotten: each token's `exp`; a subject's cut-off or a session plus the longest broker token
   * lifetime; never for a disabled subject or a client (kept until lifted).
   */
  #receiverRevocations(
    kind: ReturnType<typeof targetOf>['kind'],
    value: string,
    before: number | undefined,
    coverage: RevocationCoverage,
    at: number,
  ): Revocation[] {
    const horizon = at + this.#options.maxLifetimeSeconds;
    switch (kind) {
      case 'jti': {
        const tokens = coverage.tokens.map(({ jti, exp }) => ({
          kind: 'jti' as const,
          value: jti,
          until: exp,
        }));
        return tokens.some((token) => token.value === value)
          ? tokens
          : [{ kind: 'jti', value, until: horizon }, ...tokens];
      }
      case 'root': {
        const tokens: Revocation[] = coverage.tokens.map(({ jti, exp }) => ({
          kind: 'jti',
          value: jti,
          until: exp,
        }));
        const hash = value.indexOf('#');
        const rootJti = hash >= 0 ? value.slice(hash + 1) : '';
        if (rootJti) {
          // The identity provider's token may outlive every token the broker exchanged from it; its
          // `exp` is not recorded here, so its entry is kept a day (what receivers keep by default).
          const latest = Math.max(
            horizon,
            at + IDENTITY_PROVIDER_TOKEN_RETAIN_SECONDS,
            ...coverage.tokens.map((token) => token.exp),
          );
          tokens.unshift({ kind: 'jti', value: rootJti, until: latest });
        }
        return tokens;
      }
      case 'subject':
        return [
          before === undefined
            ? { kind: 'subject', value, at }
            : { kind: 'subject', value, before, until: before + this.#retainSeconds, at },
        ];
      case 'session':
        return [{ kind: 'session', value, until: at + this.#retainSeconds, at }];
      case 'client':
        return [{ kind: 'client', value, at }];
    }
  }

  /** Tells every listener (one failing does not stop the others); false when any failed. */
  async #tell(change: BrokerRevocationChange): Promise<boolean> {
    const results = await Promise.allSettled([...this.#listeners].map(async (listener) => listener(change)));
    return results.every((result) => result.status === 'fulfilled');
  }

  async #audit(
    action: 'revocation' | 'revocation.lift',
    name: string,
    by: RevocationActor,
    revocation: RevocationDetail,
    started: number,
    outcome: 'ok' | 'error' = 'ok',
  ): Promise<void> {
    await this.#options.audit.write(
      auditEventOf(
        {
          actor: { sub: by.actor, tenant: null },
          agent: by.actor,
          scopes: [],
          delegation: { mode: 'direct', chain: [by.actor] },
        },
        {
          action,
          component: this.#options.issuer,
          target: { type: 'revocation', name },
          outcome,
          ...(outcome === 'error' ? { reason: 'internal_error' as const } : {}),
          started,
          trace: { traceId: newTraceId(), spanId: newSpanId() },
          revocation,
        },
      ),
    );
  }
}

function reasonOf(by: RevocationActor): { reason?: string } {
  return by.reason ? { reason: by.reason } : {};
}

function assertActor(by: RevocationActor): void {
  if (typeof by?.actor !== 'string' || by.actor.length === 0) {
    throw new TypeError('a revocation names its actor (who revokes) as a non-empty string');
  }
  if (by.reason !== undefined && (typeof by.reason !== 'string' || by.reason.length > 1000)) {
    throw new TypeError('a revocation reason is a string of at most 1000 characters');
  }
}
