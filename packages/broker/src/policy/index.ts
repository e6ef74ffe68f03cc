export { type CedarPolicyEngineOptions, createCedarPolicyEngine } from './cedar-engine.ts';
export type {
  ExchangeFacts,
  IssuanceMode,
  PolicyDecision,
  PolicyEngine,
  PolicyRefusal,
} from './facts.ts';
