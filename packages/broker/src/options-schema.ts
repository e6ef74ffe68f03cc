import { z } from 'zod';
import { FetchAllowList } from './outbound-fetch.ts';

/**
 * The rules for the broker's security options, written once: the configuration file's schema
 * (`config.ts`) is built from these fields, and `startBroker` checks its options against
 * `BrokerOptionsSchema`, made of the same fields — so a programmatic start refuses what the file
 * refuses. Functions and objects the caller builds (policy, audit, registry, stores) are checked by
 * `startBroker` itself; a client's metadata by oidc-provider when the broker starts.
 */

/** An issuer or its metadata/JWKS URL: `http(s)` only (RFC 8414 §2; plain http for loopback and demos). */
export const issuerUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** RFC 8707 §2: a resource is an absolute URI without a fragment. */
export const resourceUri = z
  .url({ error: 'must be an absolute URI' })
  .refine((value) => !value.includes('#'), 'a resource URI must not carry a fragment (RFC 8707)');

const scopes = z.array(z.string().min(1));

/** An RFC 7591 §3 initial access token: a secret long enough not to be guessed. */
export const initialAccessToken = z.string().min(16, 'an initial access token needs at least 16 characters');

/** Hostnames the broker may fetch from, checked by the one allow-list rule (bare hostnames only). */
export const fetchHosts = z.array(z.string()).superRefine((hosts, context) => {
  try {
    new FetchAllowList(hosts);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const trustedIssuerFields = { issuer: issuerUrl, jwksUri: issuerUrl.optional() };
export const audienceFields = { resource: resourceUri, scopes };
/** What the operator approves a self-declared client for (see `ClientApproval`). */
export const approvalFields = {
  resources: z.array(resourceUri).optional(),
  clientCredentials: z.boolean().optional(),
  jwtBearer: z.boolean().optional(),
  scopes: scopes.optional(),
  traceTrusted: z.boolean().optional(),
};
export const approvalName = z.string().regex(/^[\w.-]+$/, 'letters, digits, ., _ and - only');
export const port = z.number().int().min(0).max(65535);
export const host = z.string().min(1);
/** The longest lifetime of any token the broker issues: at most an hour. */
export const maxLifetimeSeconds = z.number().int().positive().max(3600);
export const transactionTokens = z.strictObject({ trustDomain: z.string().min(1) });
export const clientIdMetadataDocuments = z.strictObject({
  allowedHosts: fetchHosts.pipe(z.array(z.string()).min(1)),
  approvals: z.record(z.string(), z.strictObject(approvalFields)).optional(),
});

/** DPoP at the token endpoint: a nonce secret of 32 bytes (base64url), shared by the instances. */
export const dpop = z
  .strictObject({
    nonceSecret: z
      .string()
      .refine((value) => Buffer.from(value, 'base64url').length === 32, 'must be 32 bytes, base64url')
      .optional(),
    requireNonce: z.boolean().optional(),
  })
  .refine((value) => !value.requireNonce || value.nonceSecret, 'requireNonce needs nonceSecret');
export const clientCertificates = z.enum(['none', 'optional', 'required']);

/** Registration approvals, each name once. */
function uniquelyNamed<T extends { name: string }>(approvals: readonly T[], context: z.RefinementCtx) {
  const names = new Set<string>();
  for (const [index, { name }] of approvals.entries()) {
    if (names.has(name)) context.addIssue({ code: 'custom', path: [index, 'name'], message: 'named twice' });
    names.add(name);
  }
}

/**
 * A signing key as the broker uses it: ES256 (it signs every token with ES256), with the `kid` its
 * JWKS publishes. A key for another algorithm, a symmetric key or `alg: none` is refused.
 */
const signingKey = z.looseObject({
  kty: z.literal('EC', 'the broker signs with ES256: an EC P-256 key'),
  kid: z.string().min(1),
  alg: z.literal('ES256', 'the broker signs with ES256').optional(),
  use: z.literal('sig').optional(),
});

/** The data-valued options of `startBroker`, by the rules of the configuration file. */
export const BrokerOptionsSchema = z.looseObject({
  issuer: issuerUrl.optional(),
  host: host.optional(),
  port: port.optional(),
  trustedIssuers: z.array(z.strictObject(trustedIssuerFields)),
  audiences: z.array(z.looseObject(audienceFields)).min(1),
  initialAccessToken: initialAccessToken.optional(),
  registrationApprovals: z
    .array(z.strictObject({ name: approvalName, initialAccessToken, ...approvalFields }))
    .superRefine(uniquelyNamed)
    .optional(),
  allowAnonymousRegistration: z.boolean().optional(),
  signingKeys: z.array(signingKey).optional(),
  maxLifetimeSeconds: maxLifetimeSeconds.optional(),
  clientIdMetadataDocuments: clientIdMetadataDocuments.optional(),
  fetchAllowedHosts: fetchHosts.optional(),
  transactionTokens: transactionTokens.optional(),
  adminClients: z.array(z.string().min(1)).optional(),
  tls: z
    .looseObject({
      cert: z.string().min(1),
      key: z.string().min(1),
      clientCa: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
      clientCertificates: clientCertificates.optional(),
    })
    .optional(),
  dpop: dpop.optional(),
});

/** Registration approvals in the configuration file (a token may also come from the environment). */
export const fileApprovals = z
  .array(
    z.strictObject({
      name: approvalName,
      initialAccessToken: initialAccessToken.optional(),
      ...approvalFields,
    }),
  )
  .superRefine(uniquelyNamed);

/** Every problem, one line each, named by its path. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n');
}

/**
 * Checks `startBroker`'s options by the configuration file's rules; throws a `TypeError` naming every
 * problem by its path.
 */
export function checkBrokerOptions(options: unknown): void {
  const parsed = BrokerOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`startBroker: invalid options:\n${describeIssues(parsed.error)}`);
}
