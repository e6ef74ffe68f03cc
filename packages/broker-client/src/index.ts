export {
  accessTokenHash,
  type DpopAlgorithm,
  type DpopKey,
  type DpopProofRequest,
  dpopKey,
  dpopProof,
  generateDpopKey,
} from './dpop-proof.ts';
export { DpopNonces, type DpopRequestOptions, dpopFetch } from './dpop-request.ts';
export {
  type RegisterServiceOptions,
  registerService,
  type ServiceClientMetadata,
  type ServiceClientMetadataOptions,
  serviceClientMetadata,
} from './register-service.ts';
export { type ServiceCredentials, serviceCredentials } from './service-credentials.ts';
export { type ServiceTokenSourceOptions, serviceTokenSource } from './service-token-source.ts';
export {
  clientCredentialsToken,
  type ExchangeRequest,
  exchangeToken,
  TokenRequestError,
  type TokenRequestTransport,
  type TokenResponse,
} from './token-request.ts';
export {
  ACCEPTED_INPUT_TOKEN_TYPES,
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  TXN_TOKEN_TYPE,
} from './token-types.ts';
