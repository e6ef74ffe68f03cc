import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { identityAssertionGrants, identityChaining } from './jwt-bearer/options.ts';
import {
  audienceFields,
  clientCertificates,
  clientIdMetadataDocuments,
  describeIssues,
  fetchHosts,
  fileApprovals,
  host,
  initialAccessToken,
  issuerUrl,
  maxLifetimeSeconds,
  port,
  transactionTokens,
  trustedIssuerFields,
} from './options-schema.ts';

/** The broker's configuration file (JSON). Paths inside it are relative to the file. */
export const BrokerConfigSchema = z.strictObject({
  /** Public issuer URL shared by all instances; default: the instance's own URL. */
  issuer: issuerUrl.optional(),
  host: host.default('127.0.0.1'),
  port: port.default(4010),
  trustedIssuers: z.array(z.strictObject(trustedIssuerFields)),
  audiences: z.array(z.strictObject(audienceFields)).min(1),
  policy: z.strictObject({
    /** The Cedar policy file an operator reviews. */
    file: z.string().min(1),
    defaults: z
      .strictObject({ lifetimeSeconds: z.number().int().positive(), maxDepth: z.number().int().positive() })
      .default({ lifetimeSeconds: 300, maxDepth: 3 }),
  }),
  /**
   * Operator-approved clients (RFC 7591 metadata, e.g. private_key_jwt with `jwks`): everything they
   * declare is approved, `client_credentials` with its `scope`, `baton_resources`, `baton_trace_trusted`.
   */
  clients: z.array(z.record(z.string(), z.unknown())).default([]),
  registration: z
    .strictObject({
      /**
       * Registers clients approved for nothing beyond token exchange. Prefer the
       * BATON_BROKER_INITIAL_ACCESS_TOKEN environment variable over writing it here.
       */
      initialAccessToken: initialAccessToken.optional(),
      allowAnonymous: z.boolean().default(false),
      /**
       * Initial access tokens that each approve what their registrations may declare. A token may come
       * from BATON_BROKER_APPROVAL_TOKEN_<NAME> (name upper-cased, other characters as `_`) instead.
       */
      approvals: fileApprovals.default([]),
    })
    .default({ allowAnonymous: false, approvals: [] }),
  /** Private signing keys (JWK array, first signs), kept owner-readable only. Created if missing. */
  signingKeysFile: z.string().min(1).default('broker-signing-keys.json'),
  store: z
    .discriminatedUnion('kind', [
      /**
       * Durable, one process: PGlite (PostgreSQL in WebAssembly) in `directory` (relative to the file);
       * `$BATON_BROKER_STORE` overrides it (relative to the working directory); default `.baton/broker`
       * under the working directory. Survives process restarts and crashes; not power loss or an OS
       * crash — use postgres-redis where a lost revocation matters (PGlite never calls fsync).
       */
      z.strictObject({ kind: z.literal('embedded'), directory: z.string().min(1).optional() }),
      /** Nothing survives a restart: registered clients, issued tokens, replay records, revocations. For tests. */
      z.strictObject({ kind: z.literal('memory') }),
      z.strictObject({
        kind: z.literal('postgres-redis'),
        postgresUrl: z.string().min(1),
        redisUrl: z.string().min(1),
        /** Prefixes for tables and Redis keys, when one database serves several deployments. */
        tablePrefix: z.string().optional(),
        keyPrefix: z.string().optional(),
      }),
    ])
    .default({ kind: 'embedded' }),
  transactionTokens: transactionTokens.optional(),
  /** Accept Client ID Metadata Document clients from these hosts only, approved per client id. */
  clientIdMetadataDocuments: clientIdMetadataDocuments.optional(),
  /** The only hosts the broker fetches from (a client's jwks_uri, sector_identifier_uri, …). */
  fetchAllowedHosts: fetchHosts.default([]),
  maxLifetimeSeconds: maxLifetimeSeconds.default(300),
  /**
   * Static clients (ids among `clients`, with inline `jwks` or a `client_secret`) that may use the
   * revocation admin API (`POST /admin/revocations`, `baton revoke`). Registered clients never can.
   */
  adminClients: z.array(z.string().min(1)).default([]),
  /**
   * Transmit every revocation over OpenID Shared Signals (`/.well-known/ssf-configuration`, `/ssf/…`);
   * streams and their queues live in the store, so every instance serves every stream.
   */
  sharedSignals: z
    .strictObject({
      /** The static clients that may hold streams. Default: every static client with client_credentials. */
      receivers: z.array(z.string().min(1)).optional(),
      /** `https` hosts SETs may be pushed to. Default: none (receivers poll). */
      pushAllowedHosts: z.array(z.string().min(1)).default([]),
    })
    .optional(),
  /**
   * A SCIM 2.0 service at `<issuer>/scim/v2` (directory in the store): deactivating or deleting a user
   * disables the person, a group removal revokes their earlier tokens. Callers present the broker's
   * own client-credentials token for `<issuer>/scim/v2` from one of these static clients.
   */
  scim: z.strictObject({ approvedClients: z.array(z.string().min(1)).min(1) }).optional(),
  /** Take the identity providers' Security Event Tokens at `<issuer>/ssf/receiver` (each a trusted issuer). */
  identityProviderSignals: z
    .strictObject({
      issuers: z.array(z.strictObject({ issuer: issuerUrl, jwksUri: z.url().optional() })).min(1),
    })
    .optional(),
  /**
   * Serve HTTPS (PEM files, relative to this file); with `clientCaFile`, mutual TLS (RFC 8705):
   * `tls_client_auth`, `self_signed_tls_client_auth` (`optional` only) and certificate-bound tokens.
   */
  tls: z
    .strictObject({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      clientCaFile: z.string().min(1).optional(),
      clientCertificates: clientCertificates.optional(),
    })
    .optional(),
  /**
   * DPoP server nonces. The secret (32 bytes, base64url, the same at every instance) belongs in
   * BATON_BROKER_DPOP_NONCE_SECRET rather than in the file; `requireNonce` needs it.
   */
  dpop: z
    .strictObject({ nonceSecret: z.string().min(1).optional(), requireNonce: z.boolean().default(false) })
    .optional(),
  /** Redeem ID-JAGs from these trusted issuers (RFC 7523 jwt-bearer; see the README). */
  identityAssertionGrants: identityAssertionGrants.optional(),
  /** Cross-domain hops: foreign authorization servers to issue grants for, home brokers to redeem from. */
  identityChaining: identityChaining.optional(),
});

export type BrokerConfig = z.output<typeof BrokerConfigSchema>;

/**
 * Environment overrides, for secrets and deployment-specific values that do not belong in a
 * reviewed file.
 */
const ENVIRONMENT: Record<string, (config: BrokerConfig, value: string) => void> = {
  BATON_BROKER_ISSUER(config, value) {
    config.issuer = value;
  },
  BATON_BROKER_HOST(config, value) {
    config.host = value;
  },
  BATON_BROKER_PORT(config, value) {
    config.port = portFrom(value);
  },
  BATON_BROKER_INITIAL_ACCESS_TOKEN(config, value) {
    config.registration.initialAccessToken = value;
  },
  BATON_BROKER_STORE(config, value) {
    // A directory for the embedded store, relative to the working directory (like BATON_AUDIT_STORE).
    if (config.store.kind === 'embedded') config.store.directory = resolve(value);
  },
  BATON_BROKER_POSTGRES_URL(config, value) {
    config.store =
      config.store.kind === 'postgres-redis'
        ? { ...config.store, postgresUrl: value }
        : { kind: 'postgres-redis', postgresUrl: value, redisUrl: redisUrlOf(config) };
  },
  BATON_BROKER_DPOP_NONCE_SECRET(config, value) {
    config.dpop = { requireNonce: false, ...config.dpop, nonceSecret: value };
  },
  BATON_BROKER_REDIS_URL(config, value) {
    if (config.store.kind === 'postgres-redis') config.store.redisUrl = value;
  },
};

/** Reads, validates and applies environment overrides; every problem is reported with its path. */
export async function loadBrokerConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ config: BrokerConfig; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read broker configuration ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    // Only the position: JSON.parse quotes the text around the error, which may be a secret.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new Error(
      `broker configuration ${file} is not valid JSON${position ? ` (at character ${position})` : ''}`,
    );
  }
  const config = checked(raw, file);
  // Like every path in the file, the embedded store's directory is relative to the file.
  if (config.store.kind === 'embedded' && config.store.directory !== undefined) {
    config.store.directory = resolve(dirname(resolve(file)), config.store.directory);
  }
  for (const [name, apply] of Object.entries(ENVIRONMENT)) {
    const value = env[name];
    if (value !== undefined && value !== '') apply(config, value);
  }
  for (const approved of config.registration.approvals) {
    const variable = approvalTokenVariable(approved.name);
    const value = env[variable];
    if (value !== undefined && value !== '') approved.initialAccessToken = value;
    if (!approved.initialAccessToken || approved.initialAccessToken.length < 16) {
      throw new Error(
        `broker registration approval ${approved.name} needs an initial access token of at least 16 characters (${variable})`,
      );
    }
  }
  // Values from the environment follow the file's rules too.
  checked(config, `${file} with its BATON_BROKER_* environment overrides`);
  if (
    !config.registration.initialAccessToken &&
    config.registration.approvals.length === 0 &&
    !config.registration.allowAnonymous
  ) {
    throw new Error(
      'broker registration needs an initial access token (BATON_BROKER_INITIAL_ACCESS_TOKEN); allowAnonymous is for demos only',
    );
  }
  return { config, baseDir: dirname(resolve(file)) };
}

function checked(raw: unknown, source: string): BrokerConfig {
  const parsed = BrokerConfigSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`invalid broker configuration ${source}:\n${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The environment variable that may hold an approval's initial access token. */
export function approvalTokenVariable(name: string): string {
  return `BATON_BROKER_APPROVAL_TOKEN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function portFrom(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`BATON_BROKER_PORT is not a port: ${value}`);
  return port;
}

function redisUrlOf(config: BrokerConfig): string {
  return config.store.kind === 'postgres-redis' ? config.store.redisUrl : 'redis://127.0.0.1:6379';
}
