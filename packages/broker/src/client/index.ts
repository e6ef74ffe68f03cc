export { type RegisterServiceOptions, registerService } from './register-service.ts';
export { type ServiceCredentials, serviceCredentials } from './service-credentials.ts';
export {
  clientCredentialsToken,
  type ExchangeRequest,
  exchangeToken,
  TokenRequestError,
  type TokenResponse,
} from './token-request.ts';
