/**
 * One validation for both ways of starting the broker: whatever the configuration file refuses, a
 * programmatic `startBroker` refuses too, by the same rules (`src/options-schema.ts`), naming the path.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryAuditSink } from '@baton/audit';
import { exportJWK, generateKeyPair } from 'jose';
import { loadBrokerConfig } from '../src/config.ts';
import { type BrokerOptions, startBroker } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { POLICY } from './fixtures/stack.ts';

const directory = mkdtempSync(join(tmpdir(), 'baton-broker-options-'));
after(() => rmSync(directory, { recursive: true, force: true }));
writeFileSync(join(directory, 'policy.cedar'), POLICY);

const TOKEN = 'options-test-initial-access-token';
const IDP = 'https://idp.example';
const RESOURCE = 'https://api.example/orders';

const fileBase = {
  port: 0,
  trustedIssuers: [{ issuer: IDP }],
  audiences: [{ resource: RESOURCE, scopes: ['orders:read'] }],
  policy: { file: 'policy.cedar' },
  registration: { initialAccessToken: TOKEN },
};
const optionsBase = (): BrokerOptions => ({
  trustedIssuers: [{ issuer: IDP }],
  audiences: [{ resource: RESOURCE, scopes: ['orders:read'] }],
  policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
  audit: new MemoryAuditSink(),
  initialAccessToken: TOKEN,
});

let files = 0;
function configFile(content: unknown): string {
  const path = join(directory, `broker-${files++}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const approval = (name: string) => ({ name, initialAccessToken: `${name}-approval-token-0123456789` });

/** Each attack as the file writes it and as a program passes it, with the path each must name. */
const ATTACKS: ReadonlyArray<{
  name: string;
  file: Record<string, unknown>;
  options: Partial<BrokerOptions>;
  filePath: RegExp;
  optionPath: RegExp;
}> = [
  {
    name: 'a trusted issuer that is not an http(s) URL (javascript:)',
    file: { trustedIssuers: [{ issuer: 'javascript:alert(1)' }] },
    options: { trustedIssuers: [{ issuer: 'javascript:alert(1)' }] },
    filePath: /trustedIssuers\.0\.issuer: must be an http\(s\) URL/,
    optionPath: /trustedIssuers\.0\.issuer: must be an http\(s\) URL/,
  },
  {
    name: "a trusted issuer's keys read from a file: URL",
    file: { trustedIssuers: [{ issuer: IDP, jwksUri: 'file:///etc/keys.json' }] },
    options: { trustedIssuers: [{ issuer: IDP, jwksUri: 'file:///etc/keys.json' }] },
    filePath: /trustedIssuers\.0\.jwksUri/,
    optionPath: /trustedIssuers\.0\.jwksUri/,
  },
  {
    name: 'a misspelt trusted-issuer field that would be silently ignored (jwks_uri)',
    file: { trustedIssuers: [{ issuer: IDP, jwks_uri: 'https://evil.example/jwks' }] },
    options: { trustedIssuers: [{ issuer: IDP, jwks_uri: 'https://evil.example/jwks' } as never] },
    filePath: /trustedIssuers\.0: Unrecognized key: "jwks_uri"/,
    optionPath: /trustedIssuers\.0: Unrecognized key: "jwks_uri"/,
  },
  {
    name: 'a broker issuer that is not an http(s) URL',
    file: { issuer: 'broker.example' },
    options: { issuer: 'broker.example' },
    filePath: /^ {2}issuer: must be an http\(s\) URL/m,
    optionPath: /^ {2}issuer: must be an http\(s\) URL/m,
  },
  {
    name: 'no audience at all',
    file: { audiences: [] },
    options: { audiences: [] },
    filePath: /^ {2}audiences: /m,
    optionPath: /^ {2}audiences: /m,
  },
  {
    name: 'an audience resource with a fragment (RFC 8707)',
    file: { audiences: [{ resource: `${RESOURCE}#admin`, scopes: ['orders:read'] }] },
    options: { audiences: [{ resource: `${RESOURCE}#admin`, scopes: ['orders:read'] }] },
    filePath: /audiences\.0\.resource: a resource URI must not carry a fragment/,
    optionPath: /audiences\.0\.resource: a resource URI must not carry a fragment/,
  },
  {
    name: 'a guessable initial access token (shorter than 16 characters)',
    file: { registration: { initialAccessToken: 'letmein' } },
    options: { initialAccessToken: 'letmein' },
    filePath: /registration\.initialAccessToken: an initial access token needs at least 16 characters/,
    optionPath: /^ {2}initialAccessToken: an initial access token needs at least 16 characters/m,
  },
  {
    name: 'a registration approval whose token is guessable',
    file: { registration: { approvals: [{ name: 'ledger', initialAccessToken: 'letmein' }] } },
    options: { registrationApprovals: [{ name: 'ledger', initialAccessToken: 'letmein' }] },
    filePath: /registration\.approvals\.0\.initialAccessToken: an initial access token needs/,
    optionPath: /registrationApprovals\.0\.initialAccessToken: an initial access token needs/,
  },
  {
    name: 'two registration approvals under one name (one would shadow the other)',
    file: { registration: { approvals: [approval('ledger'), approval('ledger')] } },
    options: { registrationApprovals: [approval('ledger'), approval('ledger')] },
    filePath: /registration\.approvals\.1\.name: named twice/,
    optionPath: /registrationApprovals\.1\.name: named twice/,
  },
  {
    name: 'tokens that live for a day',
    file: { maxLifetimeSeconds: 86_400 },
    options: { maxLifetimeSeconds: 86_400 },
    filePath: /maxLifetimeSeconds: /,
    optionPath: /maxLifetimeSeconds: /,
  },
  {
    name: 'a non-positive token lifetime',
    file: { maxLifetimeSeconds: 0 },
    options: { maxLifetimeSeconds: 0 },
    filePath: /maxLifetimeSeconds: /,
    optionPath: /maxLifetimeSeconds: /,
  },
  {
    name: 'Transaction Tokens for an empty trust domain',
    file: { transactionTokens: { trustDomain: '' } },
    options: { transactionTokens: { trustDomain: '' } },
    filePath: /transactionTokens\.trustDomain: /,
    optionPath: /transactionTokens\.trustDomain: /,
  },
  {
    name: 'Client ID Metadata Documents from no host at all',
    file: { clientIdMetadataDocuments: { allowedHosts: [] } },
    options: { clientIdMetadataDocuments: { allowedHosts: [] } },
    filePath: /clientIdMetadataDocuments\.allowedHosts: /,
    optionPath: /clientIdMetadataDocuments\.allowedHosts: /,
  },
  {
    name: 'a wildcard fetch allow-list entry',
    file: { fetchAllowedHosts: ['*.example'] },
    options: { fetchAllowedHosts: ['*.example'] },
    filePath: /fetchAllowedHosts: .*must be a bare hostname/,
    optionPath: /fetchAllowedHosts: .*must be a bare hostname/,
  },
  {
    name: 'a port that does not exist',
    file: { port: 70_000 },
    options: { port: 70_000 },
    filePath: /^ {2}port: /m,
    optionPath: /^ {2}port: /m,
  },
];

describe('broker options: the configuration file and a programmatic start refuse alike', () => {
  it('accepts the baseline both ways (so every refusal below is the attack’s own)', async () => {
    const { config } = await loadBrokerConfig(configFile(fileBase), {});
    assert.equal(config.registration.initialAccessToken, TOKEN);
    const broker = await startBroker(optionsBase());
    await broker.close();
  });

  for (const attack of ATTACKS) {
    it(`refuses ${attack.name}`, async () => {
      await assert.rejects(
        loadBrokerConfig(configFile({ ...fileBase, ...attack.file }), {}),
        (error: Error) => {
          assert.match(error.message, attack.filePath, 'configuration file');
          return true;
        },
      );
      await assert.rejects(startBroker({ ...optionsBase(), ...attack.options }), (error: unknown) => {
        assert.ok(error instanceof TypeError, `expected TypeError, got ${String(error)}`);
        assert.match(error.message, attack.optionPath, 'startBroker');
        return true;
      });
    });
  }

  it('refuses a guessable initial access token from the environment, as from the file', async () => {
    const file = configFile({ ...fileBase, registration: {} });
    await assert.rejects(
      loadBrokerConfig(file, { BATON_BROKER_INITIAL_ACCESS_TOKEN: 'letmein' }),
      /environment overrides:\n {2}registration\.initialAccessToken: an initial access token needs at least 16/,
    );
    await assert.rejects(
      loadBrokerConfig(file, {
        BATON_BROKER_ISSUER: 'javascript:alert(1)',
        BATON_BROKER_INITIAL_ACCESS_TOKEN: TOKEN,
      }),
      /issuer: must be an http\(s\) URL/,
    );
  });
});

describe('broker signing keys: a key the broker cannot sign ES256 with is refused', () => {
  const rsaKey = async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    return { ...(await exportJWK(privateKey)), kid: 'rsa-1', alg: 'RS256' };
  };
  const BAD_KEYS: ReadonlyArray<{ name: string; key: () => Promise<Record<string, unknown>>; path: RegExp }> =
    [
      { name: 'an RS256 key (another algorithm)', key: rsaKey, path: /signingKeys\.0\.kty/ },
      {
        name: 'a symmetric key (a shared secret anyone holding it could sign with)',
        key: async () => ({
          kty: 'oct',
          k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
          kid: 'hmac-1',
          alg: 'HS256',
        }),
        path: /signingKeys\.0\.kty/,
      },
      {
        name: 'an EC key labelled alg none',
        key: async () => {
          const { privateKey } = await generateKeyPair('ES256', { extractable: true });
          return { ...(await exportJWK(privateKey)), kid: 'none-1', alg: 'none' };
        },
        path: /signingKeys\.0\.alg: the broker signs with ES256/,
      },
    ];
  for (const bad of BAD_KEYS) {
    it(`startBroker refuses ${bad.name}`, async () => {
      await assert.rejects(
        startBroker({ ...optionsBase(), signingKeys: [(await bad.key()) as never] }),
        (error: unknown) => error instanceof TypeError && bad.path.test(error.message),
      );
    });
  }

  it('the command line refuses an RS256 key in the signing key file, by the same rule', async () => {
    const config = configFile({ ...fileBase, store: { kind: 'memory' } });
    const keysFile = join(directory, 'broker-signing-keys.json');
    writeFileSync(keysFile, JSON.stringify({ keys: [await rsaKey()] }), { mode: 0o600 });
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, output });
      });
    });
    assert.equal(code, 1);
    assert.match(output, /broker failed to start/);
    assert.match(output, /signingKeys\.0\.kty/);
  });
});
