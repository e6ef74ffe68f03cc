/**
 * The wire form of an envelope is a Transaction Token (draft-ietf-oauth-transaction-tokens-10 §7):
 *
 * | envelope                     | Txn-Token claim       | note                                                  |
 * |------------------------------|-----------------------|-------------------------------------------------------|
 * | `id`                         | `jti`                 | unique per envelope                                   |
 * | `issuer`                     | `iss`                 | the boundary (or token service) that minted it        |
 * | `trust_domain`               | `aud`                 | the Trust Domain; refused anywhere else               |
 * | `issued_at`/`expires_at`     | `iat`/`exp`           | minutes, not hours                                    |
 * | `session.trace_id`           | `txn`                 | one transaction = one call chain = one W3C trace      |
 * | `actor.sub`                  | `sub`                 | the principal of the transaction                      |
 * | `authorization.scopes`       | `scope`               | space-delimited: the transaction's purpose            |
 * | `requesting_workload`        | `req_wl`              | the workload that asked for the token                 |
 * | `delegation`                 | `tctx.mode/allowed/chain` | immutable authorization details                   |
 * | `details`                    | `tctx.details`        | parameters asserted from `request_details`            |
 * | `request_context`            | `rctx`                | `req_ip`, `authn`, `transport` from `request_context` |
 * | `actor`, `agent`, `session`, `authorization` | same names | Baton's claims beside the draft's            |
 *
 * The mirrored claims (`sub`, `scope`, `txn`) must equal the sections they mirror; a verifier refuses an
 * envelope where they disagree, so no two readers can see two different identities.
 */
export const TXN_TOKEN_DRAFT = 'draft-ietf-oauth-transaction-tokens-10';
/** JOSE `typ` of a Transaction Token (draft-10 §6.1). */
export const TXN_TOKEN_TYP = 'txntoken+jwt';
/** HTTP header that carries a Transaction Token between workloads (draft-10 §9). */
export const TXN_TOKEN_HEADER = 'Txn-Token';
/** RFC 8693 token type URI for a Transaction Token (draft-10 §11). */
export const TXN_TOKEN_TYPE_URI = 'urn:ietf:params:oauth:token-type:txn_token';
