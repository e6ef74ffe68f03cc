import { z } from 'zod';
import { issuerUrl } from '../options-schema.ts';

/** The ID-JAG draft the broker implements (the Identity Assertion JWT Authorization Grant). */
export const ID_JAG_DRAFT = 'draft-ietf-oauth-identity-assertion-authz-grant-03';
/** The identity-chaining draft the broker implements (OAuth Identity and Authorization Chaining Across Domains). */
export const IDENTITY_CHAINING_DRAFT = 'draft-ietf-oauth-identity-chaining-16';

/**
 * Enterprise-managed authorization: redeem Identity Assertion JWT Authorization Grants (ID-JAG) that a
 * trusted identity provider issued for this broker, with the RFC 7523 jwt-bearer grant.
 *
 * @example
 * identityAssertionGrants: { draft: ID_JAG_DRAFT, issuers: [idp.issuer] }
 */
export interface IdentityAssertionGrantOptions {
  /** The draft version implemented, named so a configuration says which one it relies on. */
  draft: typeof ID_JAG_DRAFT;
  /**
   * The identity providers whose ID-JAGs are redeemed: each must be among `trustedIssuers` (its keys
   * are found the same way). An identity provider trusted for access tokens is not thereby trusted to
   * assert identities for this broker's clients: it is listed here too.
   */
  issuers: readonly string[];
  /** Oldest ID-JAG accepted (`iat`), seconds. Default 300. */
  maxAgeSeconds?: number;
}

/** Another Baton broker (another trust domain's authorization server) whose JWT authorization grants are redeemed here. */
export interface HomeDomain {
  /** Its issuer identifier, compared exactly with `iss`. */
  issuer: string;
  /** Its public keys, inline. */
  jwks?: { keys: Array<Record<string, unknown>> };
  /** Where its public keys are published. Default: from its metadata. */
  jwksUri?: string;
  /**
   * The home domain's tenants this domain accepts as its own (a visitor's `tenant` kept as is). Every
   * other identifier a home broker asserts (`sub`, `tenant`, `sid`) is qualified with its issuer
   * (`<issuer>|<value>`), so a home broker cannot pose as one of this domain's subjects or tenants.
   * Default: none.
   */
  tenants?: readonly string[];
}

/** Another trust domain's authorization server this broker issues JWT authorization grants for. */
export interface ForeignDomain {
  /** Its issuer identifier: the grant's `aud`, and the `audience` a client asks for (RFC 8693). */
  issuer: string;
  /** The scopes a grant for it may carry (narrowed, as any exchange, to the subject token's and the policy's). */
  scopes: readonly string[];
}

/**
 * Cross-domain hops: this broker as the home authorization server (token exchange with `audience` = a
 * foreign domain's authorization server and `requested_token_type=urn:ietf:params:oauth:token-type:jwt`
 * issues a JWT authorization grant), and as the foreign one (redeems a trusted home broker's grants
 * with the RFC 7523 jwt-bearer grant, under its own policy).
 *
 * @example
 * identityChaining: { draft: IDENTITY_CHAINING_DRAFT, foreignDomains: [{ issuer: partner, scopes: ['ledger:read'] }] }
 */
export interface IdentityChainingOptions {
  draft: typeof IDENTITY_CHAINING_DRAFT;
  /** Foreign authorization servers this broker issues grants for (home side). */
  foreignDomains?: readonly ForeignDomain[];
  /** Home brokers whose grants this broker redeems (foreign side). */
  homeDomains?: readonly HomeDomain[];
  /** Oldest grant accepted (`iat`), seconds. Default 300. */
  maxAgeSeconds?: number;
}

const url = issuerUrl;
const maxAgeSeconds = z.number().int().min(1).max(3600).optional();

/** `identityAssertionGrants`, in the configuration file too. */
export const identityAssertionGrants = z.strictObject({
  draft: z.literal(ID_JAG_DRAFT),
  issuers: z.array(url).min(1),
  maxAgeSeconds,
});

/** `identityChaining`, in the configuration file too. */
export const identityChaining = z.strictObject({
  draft: z.literal(IDENTITY_CHAINING_DRAFT),
  foreignDomains: z.array(z.strictObject({ issuer: url, scopes: z.array(z.string().min(1)) })).optional(),
  homeDomains: z
    .array(
      z.strictObject({
        issuer: url,
        jwks: z.looseObject({ keys: z.array(z.looseObject({})).min(1) }).optional(),
        jwksUri: url.optional(),
        tenants: z.array(z.string().min(1)).optional(),
      }),
    )
    .optional(),
  maxAgeSeconds,
});

/**
 * Checks the jwt-bearer options at construction: draft names, URLs, ID-JAG issuers among the trusted
 * issuers, foreign domains that are neither this broker nor one of its audiences, home domains that are
 * neither this broker, an ID-JAG issuer nor a trusted issuer. Throws `TypeError`.
 */
export function checkJwtBearerOptions(options: {
  issuer: string;
  trustedIssuers: readonly { issuer: string }[];
  audiences: readonly { resource: string }[];
  identityAssertionGrants?: IdentityAssertionGrantOptions | undefined;
  identityChaining?: IdentityChainingOptions | undefined;
}): void {
  const problems: string[] = [];
  const check = (name: string, schema: z.ZodType, value: unknown) => {
    if (value === undefined) return;
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${[name, ...issue.path].join('.')}: ${issue.message}`);
    }
  };
  check('identityAssertionGrants', identityAssertionGrants, options.identityAssertionGrants);
  check('identityChaining', identityChaining, options.identityChaining);
  for (const idp of options.identityAssertionGrants?.issuers ?? []) {
    // ID-JAG draft §7.3: an authorization server never redeems an ID-JAG it issued itself.
    if (idp === options.issuer) problems.push('identityAssertionGrants.issuers: this broker itself');
    if (!options.trustedIssuers.some((trusted) => trusted.issuer === idp))
      problems.push(`identityAssertionGrants.issuers: ${idp} is not among trustedIssuers`);
  }
  for (const foreign of options.identityChaining?.foreignDomains ?? []) {
    if (foreign.issuer === options.issuer)
      problems.push('identityChaining.foreignDomains: this broker itself');
    if (options.audiences.some((audience) => audience.resource === foreign.issuer))
      problems.push(`identityChaining.foreignDomains: ${foreign.issuer} is also an audience`);
  }
  for (const home of options.identityChaining?.homeDomains ?? []) {
    if (home.issuer === options.issuer) problems.push('identityChaining.homeDomains: this broker itself');
    // One issuer, one kind of grant: its `typ` and keys are chosen by `iss`.
    if (options.identityAssertionGrants?.issuers.includes(home.issuer))
      problems.push(`identityChaining.homeDomains: ${home.issuer} is also an ID-JAG issuer`);
    // Nor an issuer of access tokens exchanged here: its tokens would be exchanged as a trusted
    // identity provider's, its identifiers unqualified (not a visitor's, past the rules for visitors)
    // while its Security Event Tokens name them qualified, so its revocations would match nothing.
    if (options.trustedIssuers.some((trusted) => trusted.issuer === home.issuer))
      problems.push(`identityChaining.homeDomains: ${home.issuer} is also among trustedIssuers`);
  }
  if (problems.length) throw new TypeError(`startBroker: invalid options:\n  ${problems.join('\n  ')}`);
}
