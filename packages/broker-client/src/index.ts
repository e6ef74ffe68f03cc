export { type DpopKey, dpopKey } from './dpop.ts';
export {
  type RegisterServiceOptions,
  registerService,
  type ServiceClientMetadata,
  type ServiceClientMetadataOptions,
  serviceClientMetadata,
  type WorkloadClientMetadata,
  type WorkloadClientMetadataOptions,
  workloadClientMetadata,
} from './register-service.ts';
export {
  type ServiceCredentials,
  serviceCredentials,
  type TlsClientCredentials,
  tlsClientCredentials,
} from './service-credentials.ts';
export { type ServiceTokenSourceOptions, serviceTokenSource } from './service-token-source.ts';
export {
  clientCredentialsToken,
  type ExchangeRequest,
  exchangeToken,
  TokenRequestError,
  type TokenRequestOptions,
  type TokenResponse,
} from './token-request.ts';
export {
  ACCEPTED_INPUT_TOKEN_TYPES,
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  TXN_TOKEN_TYPE,
} from './token-types.ts';
