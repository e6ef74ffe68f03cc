import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { loadBrokerConfig } from '../src/config.ts';
import { ID_JAG_DRAFT, IDENTITY_CHAINING_DRAFT, startBroker } from '../src/index.ts';
import { checkJwtBearerOptions } from '../src/jwt-bearer/options.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { POLICY } from './fixtures/stack.ts';

const directory = mkdtempSync(join(tmpdir(), 'baton-jwt-bearer-config-'));
after(() => rmSync(directory, { recursive: true, force: true }));

const IDP = 'https://idp.example';
const BROKER = 'https://broker.example';
const base = {
  issuer: BROKER,
  trustedIssuers: [{ issuer: IDP }],
  audiences: [{ resource: 'https://api.example/orders', scopes: ['orders:read'] }],
};
const env = { BATON_BROKER_INITIAL_ACCESS_TOKEN: 'initial-access-token-0123456789' };

describe('ID-JAG and identity-chaining options', () => {
  it('the configuration file takes them, named by their draft', async () => {
    const file = join(directory, 'broker.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        policy: { file: 'policy.cedar' },
        identityAssertionGrants: { draft: ID_JAG_DRAFT, issuers: [IDP] },
        identityChaining: {
          draft: IDENTITY_CHAINING_DRAFT,
          foreignDomains: [{ issuer: 'https://as.partner.example', scopes: ['orders:read'] }],
          homeDomains: [{ issuer: 'https://as.home.example', jwksUri: 'https://as.home.example/jwks' }],
        },
      }),
    );
    const { config } = await loadBrokerConfig(file, env);
    assert.deepEqual(config.identityAssertionGrants, { draft: ID_JAG_DRAFT, issuers: [IDP] });
    assert.equal(config.identityChaining?.foreignDomains?.[0]?.issuer, 'https://as.partner.example');
  });

  it('refuses a draft version it does not implement', async () => {
    const file = join(directory, 'old-draft.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        policy: { file: 'policy.cedar' },
        identityAssertionGrants: {
          draft: 'draft-ietf-oauth-identity-assertion-authz-grant-00',
          issuers: [IDP],
        },
      }),
    );
    await assert.rejects(loadBrokerConfig(file, env), /identityAssertionGrants\.draft/);
  });

  it('refuses an ID-JAG issuer that is not a trusted issuer, or is the broker itself', () => {
    assert.throws(
      () =>
        checkJwtBearerOptions({
          ...base,
          identityAssertionGrants: { draft: ID_JAG_DRAFT, issuers: ['https://other-idp.example'] },
        }),
      /other-idp\.example is not among trustedIssuers/,
    );
    assert.throws(
      () =>
        checkJwtBearerOptions({
          ...base,
          trustedIssuers: [{ issuer: BROKER }],
          identityAssertionGrants: { draft: ID_JAG_DRAFT, issuers: [BROKER] },
        }),
      /identityAssertionGrants\.issuers: this broker itself/,
    );
  });

  it('refuses an issuer trusted both for ID-JAGs and as a home domain (one issuer, one kind of grant)', () => {
    assert.throws(
      () =>
        checkJwtBearerOptions({
          ...base,
          identityAssertionGrants: { draft: ID_JAG_DRAFT, issuers: [IDP] },
          identityChaining: { draft: IDENTITY_CHAINING_DRAFT, homeDomains: [{ issuer: IDP }] },
        }),
      /is also an ID-JAG issuer/,
    );
  });

  it('startBroker refuses a home domain that is also among trustedIssuers', async () => {
    // Its access tokens would be exchanged as an identity provider's (identifiers unqualified, past the
    // rules for visitors), while its Security Event Tokens name them qualified.
    await assert.rejects(
      startBroker({
        ...base,
        policy: createCedarPolicyEngine({
          policies: POLICY,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
        audit: new MemoryAuditSink(),
        initialAccessToken: env.BATON_BROKER_INITIAL_ACCESS_TOKEN,
        identityChaining: { draft: IDENTITY_CHAINING_DRAFT, homeDomains: [{ issuer: IDP }] },
      }),
      /identityChaining\.homeDomains: https:\/\/idp\.example is also among trustedIssuers/,
    );
  });

  it('refuses a foreign domain that is one of the broker’s own audiences, or the broker itself', () => {
    assert.throws(
      () =>
        checkJwtBearerOptions({
          ...base,
          identityChaining: {
            draft: IDENTITY_CHAINING_DRAFT,
            foreignDomains: [
              { issuer: 'https://api.example/orders', scopes: [] },
              { issuer: BROKER, scopes: [] },
            ],
          },
        }),
      (error: Error) => /is also an audience/.test(error.message) && /this broker itself/.test(error.message),
    );
  });
});
