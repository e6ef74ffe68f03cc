export {
  ENVELOPE_ALGORITHMS,
  type EnvelopeAlgorithm,
} from './compact-jws.ts';
export {
  CONFIDENCE_LEVELS,
  DELEGATION_MODES,
  type DelegationMode,
  // The token service checks `request_details` / `request_context` with the rules verifiers apply.
  DetailsSchema,
  type Envelope,
  type EnvelopeBody,
  EnvelopeSchema,
  MAX_CONTEXT_LENGTH,
  RequestContextSchema,
  SENDER_BINDINGS,
} from './envelope.ts';
export { EnvelopeError, type EnvelopeErrorCode } from './errors.ts';
export {
  EnvelopeIssuer,
  type EnvelopeIssuerOptions,
  type MintedEnvelope,
  type MintOptions,
  type ValidatedEnvelopeBody,
  validateEnvelopeBody,
} from './issuer.ts';
export {
  EnvelopeKeyRing,
  type EnvelopeKeyRingOptions,
  type EnvelopeKeys,
  type JsonWebKeySet,
  type PublicJwk,
} from './key-ring.ts';
export {
  type EnvelopeKeyResolver,
  keyRingResolver,
  localJwksResolver,
  type ResolvedKey,
  remoteJwksResolver,
} from './key-sources.ts';
// Keys several instances share: a key file, or an operator's JWKS (issue #13, item 2).
export { SharedEnvelopeKeys, type SharedEnvelopeKeysOptions } from './shared-keys.ts';
export { TXN_TOKEN_DRAFT, TXN_TOKEN_HEADER, TXN_TOKEN_TYP, TXN_TOKEN_TYPE_URI } from './txn-token.ts';
export { type VerifyEnvelopeOptions, verifyEnvelope } from './verify.ts';
