import { randomBytes } from 'node:crypto';
import { type AuditReason, type AuditSink, auditEventOf } from '@baton/audit';
import type { Identity } from '@baton/core';
import type { Logger } from 'pino';
import { type ApprovalAsk, type ApprovalChannel, type ClientReach, urlApprovalChannel } from './channel.ts';
import { approvalDigest } from './digest.ts';
import { type ApprovalRecord, type ApprovalStore, memoryApprovalStore } from './store.ts';

export interface ApprovalOptions {
  /**
   * The OpenID provider the person signs in at on the approval page: the issuer this boundary trusts
   * for access tokens (the approver must be the token's `sub` at the same issuer).
   */
  issuer: string;
  /**
   * The boundary's client at that provider (authorization code + PKCE), registered with the redirect
   * URI `<resource origin><path>/callback`.
   */
  clientId: string;
  /** Its secret (`client_secret_basic`); omit for a public client. */
  clientSecret?: string;
  /** Where approvals live; default in memory (one instance). Use `keyValueApprovalStore` for several. */
  store?: ApprovalStore;
  /** How long an approval request stays answerable, and an approval usable. Default 300 seconds. */
  ttlSeconds?: number;
  /** The approval pages' path on the resource's origin. Default `/.baton/approve`. */
  path?: string;
  /** How the person is reached. Default the URL channel (MCP URL-mode elicitation). */
  channel?: ApprovalChannel;
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  now?: () => number;
}

/** What the approval step decided for one call. */
export type ApprovalGate =
  | { kind: 'run'; approvalId: string }
  | { kind: 'refuse'; reason: AuditReason; text: string; approvalId?: string }
  | { kind: 'ask'; approvalId: string; answer: ApprovalAsk };

export interface ApprovalCall {
  identity: Identity;
  issuer: string;
  tool: string;
  input: unknown;
  rules: readonly string[];
  client: ClientReach;
  /** The approval id a 2026-07-28 retry names (`requestState`): untrusted, checked against the call. */
  claimed: string | undefined;
}

const DEFAULT_TTL_SECONDS = 300;
/** Records outlive their window by this much, so that a late retry is told "expired", not "unknown". */
const GRACE_SECONDS = 600;

/**
 * Human approval for calls policy marks `@approval("required")`: the request is stored, the person is
 * sent to the approval page through the client (`ApprovalChannel`), and the retried call runs once, if
 * it is the same call (same digest) and the person approved it in time.
 */
export class Approvals {
  readonly store: ApprovalStore;
  readonly channel: ApprovalChannel;
  readonly ttlSeconds: number;
  readonly path: string;
  readonly options: ApprovalOptions;
  readonly #origin: string;
  readonly #audit: AuditSink;
  readonly #component: string;
  readonly #logger: Logger;

  constructor(
    options: ApprovalOptions,
    context: { resource: URL; audit: AuditSink; component: string; logger: Logger },
  ) {
    if (typeof options?.issuer !== 'string' || typeof options.clientId !== 'string')
      throw new TypeError(
        'IdentityBoundary: approval needs issuer and clientId (the approval page signs the person in)',
      );
    const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > 3600)
      throw new TypeError(
        'IdentityBoundary: approval.ttlSeconds must be a whole number of seconds up to 3600',
      );
    const path = options.path ?? '/.baton/approve';
    if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(path))
      throw new TypeError(
        'IdentityBoundary: approval.path must be an absolute path without a trailing slash',
      );
    this.options = options;
    this.store = options.store ?? memoryApprovalStore();
    this.channel = options.channel ?? urlApprovalChannel;
    this.ttlSeconds = ttl;
    this.path = path;
    this.#origin = context.resource.origin;
    this.#audit = context.audit;
    this.#component = context.component;
    this.#logger = context.logger;
  }

  /** The approval page of one request. */
  urlOf(id: string): string {
    return `${this.#origin}${this.path}/${id}`;
  }

  get redirectUri(): string {
    return `${this.#origin}${this.path}/callback`;
  }

  async gate(call: ApprovalCall): Promise<ApprovalGate> {
    const { identity } = call;
    const digest = approvalDigest({
      tool: call.tool,
      input: call.input,
      agent: identity.agent,
      subject: identity.actor.sub,
      session: identity.session,
    });
    const now = Math.floor((this.options.now ?? Date.now)() / 1000);
    if (call.claimed !== undefined) {
      // A retry naming its approval: it must be this very call's, approved, unused and in time.
      const record = typeof call.claimed === 'string' ? await this.store.get(call.claimed) : undefined;
      if (!record)
        return refuse('approval_expired', 'the approval request expired; call the tool again to ask anew');
      if (record.digest !== digest)
        return refuse(
          'approval_input_mismatch',
          'this approval was given for another call (another input, agent, person or session); it does not cover this one',
          record.id,
        );
      return this.#redeem(record, now);
    }
    const latest = await this.store.latestFor(digest);
    const record = latest === undefined ? undefined : await this.store.get(latest);
    if (record && record.expiresAt > now) {
      if (record.status === 'approved') return this.#redeem(record, now);
      if (record.status === 'denied')
        return refuse('approval_denied', 'the person denied this call', record.id);
      if (record.status === 'pending') return this.#ask(record, call.client);
    }
    if (!this.channel.reaches(call.client))
      return refuse(
        'approval_not_supported',
        `approval required: ${call.tool} runs only once the person approves it, and this client cannot show an approval page (it does not declare URL-mode elicitation)`,
      );
    const created: ApprovalRecord = {
      id: randomBytes(18).toString('base64url'),
      digest,
      tool: call.tool,
      input: call.input ?? null,
      agent: identity.agent,
      subject: identity.actor.sub,
      issuer: call.issuer,
      tenant: identity.actor.tenant,
      session: identity.session,
      rules: call.rules,
      status: 'pending',
      createdAt: now,
      expiresAt: now + this.ttlSeconds,
    };
    await this.store.put(created, this.ttlSeconds + GRACE_SECONDS);
    return this.#ask(created, call.client);
  }

  async #redeem(record: ApprovalRecord, now: number): Promise<ApprovalGate> {
    if (record.status === 'used')
      return refuse('approval_replayed', 'this approval was already used; it covers one call', record.id);
    if (record.expiresAt <= now)
      return refuse('approval_expired', 'the approval expired; call the tool again to ask anew', record.id);
    if (record.status === 'denied')
      return refuse('approval_denied', 'the person denied this call', record.id);
    if (record.status === 'pending')
      return refuse(
        'approval_pending',
        `approval is still pending at ${this.urlOf(record.id)}; call again once approved`,
        record.id,
      );
    const taken = await this.store.transition(record.id, 'approved', 'used', this.ttlSeconds + GRACE_SECONDS);
    if (!taken)
      return refuse('approval_replayed', 'this approval was already used; it covers one call', record.id);
    return { kind: 'run', approvalId: record.id };
  }

  #ask(record: ApprovalRecord, client: ClientReach): ApprovalGate {
    if (!this.channel.reaches(client))
      return refuse(
        'approval_not_supported',
        `approval required: ${record.tool} runs only once the person approves it, and this client cannot show an approval page (it does not declare URL-mode elicitation)`,
      );
    return {
      kind: 'ask',
      approvalId: record.id,
      answer: this.channel.ask(record, this.urlOf(record.id), client),
    };
  }

  /** Records what happened on the approval page (`tool.approve`), for the person the request names. */
  async recordDecision(
    record: ApprovalRecord,
    outcome: 'ok' | 'denied',
    reason: AuditReason | undefined,
    actorSub?: string,
  ): Promise<void> {
    const started = performance.now();
    const event = auditEventOf(
      {
        actor: { sub: actorSub ?? record.subject, tenant: record.tenant },
        agent: record.agent,
        scopes: [],
        delegation: { mode: 'direct', chain: [record.agent] },
      },
      {
        action: 'tool.approve',
        component: this.#component,
        target: { type: 'tool', name: record.tool },
        outcome,
        ...(reason ? { reason } : {}),
        started,
        trace: { traceId: randomBytes(16).toString('hex') },
        policyRules: record.rules,
        approvalId: record.id,
      },
    );
    try {
      await this.#audit.write(event);
    } catch (error) {
      this.#logger.error(
        { audit_event_id: event.id, err_name: (error as Error)?.name },
        'audit write failed',
      );
      throw new Error('the audit record could not be written');
    }
  }
}

function refuse(reason: AuditReason, text: string, approvalId?: string): ApprovalGate {
  return { kind: 'refuse', reason, text, ...(approvalId ? { approvalId } : {}) };
}
