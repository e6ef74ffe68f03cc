/** RFC 8693 §3 token type identifiers and the grant type, in one place. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** Transaction Token (draft-ietf-oauth-transaction-tokens-10 §11). */
export const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token';

/** Subject and actor tokens the broker accepts: JWT access tokens (RFC 9068), by either name. */
export const ACCEPTED_INPUT_TOKEN_TYPES = new Set([ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE]);
