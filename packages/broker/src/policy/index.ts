export { type CedarPolicyEngineOptions, createCedarPolicyEngine } from './cedar-engine.ts';
export {
  type ExchangeFacts,
  type IssuanceMode,
  type IssuedTokenKind,
  type PolicyDecision,
  type PolicyEngine,
  type PolicyMode,
  type PolicyRefusal,
  policyModeOf,
} from './facts.ts';
