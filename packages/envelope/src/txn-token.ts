/**
 * The wire form of an envelope, aligned with OAuth Transaction Tokens
 * (draft-ietf-oauth-transaction-tokens-10) where the two overlap.
 *
 * | envelope                 | Txn-Token claim | note                                                   |
 * |--------------------------|-----------------|--------------------------------------------------------|
 * | `id`                     | `jti`           | unique per envelope                                    |
 * | `issuer`                 | `iss`           | the boundary (or token service) that minted it         |
 * | `trust_domain`           | `aud`           | Txn-Tokens are audience-restricted to a trust domain   |
 * | `issued_at`/`expires_at` | `iat`/`exp`     | minutes, not hours                                     |
 * | `session.trace_id`       | `txn`           | one transaction = one call chain = one W3C trace       |
 * | `actor.sub`              | `sub`           | the person (or service) the transaction is for         |
 * | `authorization.scopes`   | `scope`         | space-delimited                                        |
 * | (minting workload)       | `req_wl`        | the workload that asked for the envelope               |
 * | the five sections        | same names      | `actor`, `agent`, `session`, `authorization`, `delegation` |
 *
 * The mirrored claims (`sub`, `scope`, `txn`, `jti`) must equal the sections they mirror; a verifier
 * refuses an envelope where they disagree, so no two readers can see two different identities.
 */
export const TXN_TOKEN_DRAFT = 'draft-ietf-oauth-transaction-tokens-10';
/** JOSE `typ` of a Transaction Token (draft-10 §6.1). */
export const TXN_TOKEN_TYP = 'txntoken+jwt';
/** HTTP header that carries a Transaction Token between workloads (draft-10 §9). */
export const TXN_TOKEN_HEADER = 'Txn-Token';
/** RFC 8693 token type URI for a Transaction Token (draft-10 §11). */
export const TXN_TOKEN_TYPE_URI = 'urn:ietf:params:oauth:token-type:txn_token';
