export { type CedarPolicyEngineOptions, createCedarPolicyEngine } from './cedar-engine.ts';
export type { ExchangeFacts, PolicyDecision, PolicyEngine, PolicyRefusal } from './facts.ts';
