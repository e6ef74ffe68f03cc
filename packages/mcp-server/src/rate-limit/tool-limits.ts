import type { Identity } from '@baton/core';
import {
  checkRateLimit,
  loggingFallbacks,
  type RateLimit,
  RateLimiter,
  type RateLimitStore,
} from '@baton/core/rate-limit';
import type { Logger } from 'pino';

/**
 * Declared rate limits on tool calls (`IdentityBoundaryOptions.rateLimits`). Each `tools/call` counts
 * one point against the person (tenant and subject), the agent (OAuth client), and the person's use of
 * that tool. Other MCP requests (`initialize`, lists) are not counted.
 *
 * @example
 * rateLimits: { perPerson: { points: 60, durationSeconds: 60 }, perTool: { place_order: { points: 5, durationSeconds: 60 } },
 *   store: { redis: client, keyPrefix: 'baton:orders-mcp:rl' } }
 */
export interface BoundaryRateLimits {
  /** Calls per person (the `sub` within its tenant), across agents and tools. */
  perPerson?: RateLimit;
  /** Calls per agent (client id), across the people it acts for. */
  perAgent?: RateLimit;
  /** Calls of one tool per person, by tool name. */
  perTool?: Readonly<Record<string, RateLimit>>;
  /** Default `{ memory: true }` (one instance); Redis with a shared `keyPrefix` for several. */
  store?: RateLimitStore;
}

/** Which limit refused a call. */
export type ToolLimitKind = 'person' | 'agent' | 'tool';

/** A call over a limit: which, and when to try again. */
export interface ToolCallLimited {
  tool: string;
  limit: ToolLimitKind;
  retryAfterSeconds: number;
}

/** The boundary's rate limiters, built and validated at construction. */
export class ToolRateLimits {
  readonly #perPerson: RateLimiter | undefined;
  readonly #perAgent: RateLimiter | undefined;
  readonly #perTool: ReadonlyMap<string, RateLimiter>;

  constructor(limits: BoundaryRateLimits, logger?: Pick<Logger, 'warn'>) {
    const store = loggingFallbacks(limits.store ?? { memory: true }, logger);
    this.#perPerson = limits.perPerson ? new RateLimiter('person', limits.perPerson, store) : undefined;
    this.#perAgent = limits.perAgent ? new RateLimiter('agent', limits.perAgent, store) : undefined;
    const perTool = new Map<string, RateLimiter>();
    for (const [tool, limit] of Object.entries(limits.perTool ?? {})) {
      checkRateLimit(limit, `perTool.${tool}`);
      perTool.set(tool, new RateLimiter(`tool:${tool}`, limit, store));
    }
    this.#perTool = perTool;
  }

  /**
   * Counts the calls of one request (a batch may call several tools) against each declared limit, in
   * order person, agent, tool. The first limit reached refuses the request; what the calls before it
   * consumed stays consumed (a refused request is not free).
   */
  async consume(identity: Identity, tools: readonly string[]): Promise<ToolCallLimited | undefined> {
    if (tools.length === 0) return undefined;
    // Length-prefixed parts: no tenant or subject can be chosen to collide with another's key.
    const person = keyOf(identity.actor.tenant ?? '', identity.actor.sub);
    const first = tools[0]!;
    const over = await this.#perPerson?.consume(person, tools.length);
    if (over) return { tool: first, limit: 'person', ...over };
    const agentOver = await this.#perAgent?.consume(keyOf(identity.agent), tools.length);
    if (agentOver) return { tool: first, limit: 'agent', ...agentOver };
    for (const tool of tools) {
      const toolOver = await this.#perTool.get(tool)?.consume(person);
      if (toolOver) return { tool, limit: 'tool', ...toolOver };
    }
    return undefined;
  }
}

function keyOf(...parts: string[]): string {
  return parts.map((part) => `${part.length}:${part}`).join('|');
}
