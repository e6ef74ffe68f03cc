import type { AuditReason } from '@baton/audit';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/server';
import type { Approvals } from '../approval/approvals.ts';
import type { ClientReach } from '../approval/channel.ts';
import type { OpenedRequest } from '../request-context.ts';
import { policyInputOf } from './request-model.ts';
import type { ToolPolicy } from './tool-policy.ts';

/** The boundary's policy and approvals, as a tool wrapper reaches them. */
export interface ToolGateSettings {
  policy: ToolPolicy;
  approvals: Approvals | undefined;
}

/** What policy (and, when it asks, the person) decided for one call. */
export type ToolGate =
  | { kind: 'run'; rules?: readonly string[]; approvalId?: string }
  | { kind: 'refuse'; reason: AuditReason; text: string; rules: readonly string[]; approvalId?: string }
  | {
      kind: 'ask';
      rules: readonly string[];
      approvalId: string;
      answer: { result: CallToolResult } | { error: Error };
    };

const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';

/**
 * Decides one tool call by the boundary's Cedar policy and, for `@approval("required")`, by the
 * person. Denials name the rule to the caller: rule ids are the operator's names for policy, not
 * secrets, and "denied by large-orders-need-finance" tells the person what to ask for.
 */
export async function gateToolCall(
  gate: ToolGateSettings,
  opened: OpenedRequest,
  call: {
    tool: string;
    annotations: ToolAnnotations | undefined;
    policyInput: readonly string[];
    input: unknown;
    sdkContext: unknown;
    server: unknown;
  },
): Promise<ToolGate> {
  const checked = policyInputOf(call.input, call.policyInput, gate.policy.inputAttributes);
  if ('invalid' in checked)
    return {
      kind: 'refuse',
      reason: 'policy_input_invalid',
      text: `denied by policy: input ${checked.invalid} does not have the type policy reads`,
      rules: [],
    };
  const decision = gate.policy.decide({
    identity: opened.identity,
    tool: call.tool,
    annotations: call.annotations,
    input: checked.input,
  });
  if (decision.effect === 'permit') return { kind: 'run', rules: decision.rules };
  if (decision.effect === 'forbid') {
    opened.settings.logger.warn(
      { tool: call.tool, policy_rules: decision.rules, errors: decision.errors, reason: 'policy_denied' },
      'tool call denied by policy',
    );
    return {
      kind: 'refuse',
      reason: 'policy_denied',
      text:
        decision.rules.length > 0
          ? `denied by policy rule ${decision.rules.map((rule) => `"${rule}"`).join(', ')}`
          : 'denied by policy: no rule permits this call',
      rules: decision.rules,
    };
  }
  if (!gate.approvals)
    return {
      kind: 'refuse',
      reason: 'approval_not_supported',
      text: 'approval required, and this server takes none',
      rules: decision.rules,
    };
  const requestState = requestStateOf(call.sdkContext);
  const outcome = await gate.approvals.gate({
    identity: opened.identity,
    issuer: opened.claims.issuer,
    tool: call.tool,
    input: call.input,
    rules: decision.rules,
    client: clientReachOf(call.sdkContext, call.server),
    claimed: requestState,
  });
  if (outcome.kind === 'run') return { kind: 'run', rules: decision.rules, approvalId: outcome.approvalId };
  if (outcome.kind === 'ask') return { ...outcome, rules: decision.rules };
  return { ...outcome, rules: decision.rules };
}

/** The era and URL-elicitation capability of the calling client, as far as the SDK tells. */
function clientReachOf(sdkContext: unknown, server: unknown): ClientReach {
  const envelope = (sdkContext as { mcpReq?: { envelope?: Record<string, unknown> } })?.mcpReq?.envelope;
  if (envelope && typeof envelope[PROTOCOL_VERSION_KEY] === 'string') {
    const capabilities = envelope[CLIENT_CAPABILITIES_KEY] as { elicitation?: { url?: unknown } } | undefined;
    return { era: 'modern', urlElicitation: capabilities?.elicitation?.url !== undefined };
  }
  // 2025-era: the capabilities of `initialize`, when this server instance saw it (a stateful session).
  const low = (server as { server?: { getClientCapabilities?: () => unknown } })?.server;
  const capabilities = low?.getClientCapabilities?.() as { elicitation?: { url?: unknown } } | undefined;
  return {
    era: 'legacy',
    urlElicitation: capabilities === undefined ? undefined : capabilities.elicitation?.url !== undefined,
  };
}

function requestStateOf(sdkContext: unknown): string | undefined {
  const mcpReq = (sdkContext as { mcpReq?: { requestState?: () => unknown } })?.mcpReq;
  const state = typeof mcpReq?.requestState === 'function' ? mcpReq.requestState() : undefined;
  return typeof state === 'string' ? state : undefined;
}
