import { type Context, type EntityJson, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { describeErrors } from './describe-errors.ts';
import type { CompiledPolicySet } from './policy-set.ts';

export interface EntityRef {
  type: string;
  id: string;
}

/** One question to Cedar. */
export interface AuthorizationRequest {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: Record<string, unknown>;
  /** Entities with attributes (e.g. the principal's tenant); default none. */
  entities?: EntityJson[];
}

/** Cedar's answer: allowed only on a clean `allow`; `determining` names the rules (`@id`) that decided it. */
export interface AuthorizationAnswer {
  readonly allowed: boolean;
  readonly determining: readonly string[];
  readonly errors: readonly string[];
  /** Cedar threw rather than answered: says nothing lasting about the request, so do not cache it. */
  readonly threw: boolean;
}

/**
 * One trip into wasm against a compiled set. Anything short of a clean answer (a failure, a rule that
 * errored while evaluating) is a refusal that says why.
 *
 * @example
 * const answer = authorize(compiled, { principal, action, resource, context: { scope: 'orders:read' } });
 * if (!answer.allowed) refuse(answer.determining, answer.errors);
 */
export function authorize(
  compiled: Pick<CompiledPolicySet, 'preparsedId'>,
  request: AuthorizationRequest,
): AuthorizationAnswer {
  let answer: ReturnType<typeof statefulIsAuthorized>;
  try {
    answer = statefulIsAuthorized({
      principal: request.principal,
      action: request.action,
      resource: request.resource,
      context: request.context as Context,
      preparsedPolicySetId: compiled.preparsedId,
      entities: request.entities ?? [],
    });
  } catch (error) {
    return refused(`Cedar failed: ${error instanceof Error ? error.message : String(error)}`, true);
  }
  if (answer.type === 'failure')
    return refused(`Cedar could not evaluate the request: ${describeErrors(answer.errors)}`);
  const { decision, diagnostics } = answer.response;
  const errors = diagnostics.errors.map(
    ({ policyId, error }) => `rule "${policyId}" failed to evaluate: ${error.message}`,
  );
  return Object.freeze({
    allowed: decision === 'allow' && errors.length === 0,
    determining: Object.freeze([...diagnostics.reason]),
    errors: Object.freeze(errors),
    threw: false,
  });
}

function refused(error: string, threw = false): AuthorizationAnswer {
  return Object.freeze({
    allowed: false,
    determining: Object.freeze([]),
    errors: Object.freeze([error]),
    threw,
  });
}
