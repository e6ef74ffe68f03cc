import type { AuditOutcome, AuditReason } from '@baton/audit';
import type { Envelope } from '@baton/envelope';
import type { CallerKind } from '@baton/resource-server';
import { context as otelContext } from '@opentelemetry/api';
import type { CheckedDlpPolicy } from './dlp/policy.ts';
import { blockedMessage, type DlpFindings, mergedFindings, scanResult, scanThrown } from './dlp/scan.ts';
import { type ToolContext, toolContext } from './identity-tool.ts';
import { type BoundaryAccess, openedFrom } from './request-context.ts';
import { scopesCover } from './scopes.ts';
import { sdkCallContext } from './sdk-call-context.ts';
import {
  mintEnvelopeFor,
  recordSurfaceDenial,
  recordSurfaceEvent,
  type SurfaceItem,
  startSurfaceSpan,
} from './surface-audit.ts';
import { endHopSpan, identityAttributes } from './telemetry.ts';

/** Who may use a resource or prompt: the scopes it declares and the kinds of caller it serves. */
export interface IdentityCallPolicy {
  readonly scopes: readonly string[];
  readonly actorTypes: ReadonlySet<CallerKind>;
  /** The item's own DLP policy; `false` turns it off; undefined: the boundary's default. */
  readonly dlp?: CheckedDlpPolicy | false | undefined;
}

/**
 * A resource read or prompt get refused by its wrapper: no caller this boundary authenticated, the
 * wrong kind of caller, or (the backstop behind the 403 step-up challenge) too little scope. The SDK
 * answers it as a JSON-RPC error carrying this message, which names no identity and no token.
 */
export class IdentityCallRefused extends Error {
  override readonly name = 'IdentityCallRefused';
}

/**
 * Runs one resource read or prompt get for the caller of the request in flight, as the tool wrapper
 * runs a tool call: opens the request (failing closed without one), checks the caller's kind and
 * scopes, mints the envelope under the call's trace, runs `invoke` inside the call's span, applies
 * data loss prevention to what it returns or throws (and to its progress messages) with the item's
 * policy or the boundary's default, as for tools (a blocked result is refused with
 * `blockedMessage`, audited `dlp_blocked`), and writes one audit event (`resource.read`,
 * `prompt.get`), refusals included, with what DLP found.
 * @internal not exported from the package.
 */
export async function runIdentityCall<Result>(
  access: BoundaryAccess,
  item: SurfaceItem,
  policy: IdentityCallPolicy,
  sdkContext: unknown,
  invoke: (identity: Envelope, context: ToolContext) => Result | Promise<Result>,
): Promise<Result> {
  const ctx = sdkCallContext(sdkContext);
  const opened = openedFrom(access, ctx.authInfo);
  // Mounted without this boundary, or handed a context it did not make for this request: fail closed.
  if (!opened) throw new IdentityCallRefused(`this ${item.kind} requires an authenticated caller`);
  const started = performance.now();
  const hop = startSurfaceSpan(opened, item, ctx.meta?.traceparent);
  const deny = async (reason: 'scope_insufficient' | 'actor_type_not_allowed', text: string) => {
    await recordSurfaceDenial(opened, item, started, hop, reason);
    return new IdentityCallRefused(text);
  };
  const callerType = opened.identity.actor.type;
  if (!policy.actorTypes.has(callerType)) {
    throw await deny(
      'actor_type_not_allowed',
      callerType === 'service'
        ? `this ${item.kind} is for people; a service token cannot use it`
        : `this ${item.kind} is for services only`,
    );
  }
  if (!scopesCover(opened.claims.scopes, policy.scopes, opened.settings.scopes)) {
    // The boundary's 403 step-up challenge before dispatch normally answers first; this is the backstop.
    throw await deny(
      'scope_insufficient',
      `insufficient scope: this ${item.kind} requires ${policy.scopes.join(' ')}`,
    );
  }
  const minted = await mintEnvelopeFor(opened, item, started, hop);
  const { envelope } = minted;
  if (hop.span.isRecording()) hop.span.setAttributes(identityAttributes(envelope));
  // Ends with the handler: a downstream client it keeps can no longer act for this caller.
  const invocation = { live: true };
  let outcome: AuditOutcome = 'ok';
  let reason: AuditReason | undefined;
  const dlpPolicy = policy.dlp === false ? undefined : (policy.dlp ?? opened.settings.dlp);
  let dlp: DlpFindings | undefined;
  const progressDlp = dlpPolicy
    ? { policy: dlpPolicy, found: (found: DlpFindings) => (dlp = mergedFindings(dlp, found)) }
    : undefined;
  const context = toolContext(ctx, opened, minted, item.name, hop, invocation, progressDlp);
  let result: Result;
  let withheld: IdentityCallRefused | undefined;
  try {
    result = await otelContext.with(hop.context, invoke, undefined, envelope, context);
    if (dlpPolicy) {
      // What leaves the server is scanned, as a tool's result is; the audit names detectors and counts.
      const scan = await scanResult(result, dlpPolicy);
      dlp = mergedFindings(dlp, scan.dlp);
      if (scan.blocked && scan.dlp) {
        outcome = 'denied';
        reason = 'dlp_blocked';
        withheld = new IdentityCallRefused(blockedMessage(scan.dlp));
      } else result = scan.result as Result;
    }
  } catch (error) {
    outcome = 'error';
    reason = 'handler_threw';
    if (!dlpPolicy) throw error;
    // The SDK sends a thrown error's message to the client: it leaves the server too.
    const scan = await scanThrown(error, dlpPolicy);
    dlp = mergedFindings(dlp, scan.dlp);
    throw scan.error;
  } finally {
    invocation.live = false;
    endHopSpan(hop, outcome, reason);
    await recordSurfaceEvent(opened, item, outcome, started, reason, envelope, hop, dlp ? { dlp } : {});
  }
  if (withheld) throw withheld;
  return result;
}
