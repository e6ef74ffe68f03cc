export {
  type AuthorizationAnswer,
  type AuthorizationRequest,
  authorize,
  type EntityRef,
} from './authorize.ts';
export { describeErrors } from './describe-errors.ts';
export {
  type CompiledPolicySet,
  type CompiledRule,
  type CompileOptions,
  compilePolicySet,
} from './policy-set.ts';
