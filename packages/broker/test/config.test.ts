import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadBrokerConfig } from '../src/config.ts';

const directory = mkdtempSync(join(tmpdir(), 'baton-broker-config-'));
after(() => rmSync(directory, { recursive: true, force: true }));

const SECRET = 'initial-access-token-that-must-not-be-echoed';
const valid = {
  trustedIssuers: [{ issuer: 'https://idp.example' }],
  audiences: [{ resource: 'https://api.example/orders', scopes: ['orders:read'] }],
  policy: { file: 'policy.cedar' },
};
let files = 0;
function configFile(text: string): string {
  const path = join(directory, `broker-${files++}.json`);
  writeFileSync(path, text);
  return path;
}

describe('broker configuration file', () => {
  it('refuses a file that is not JSON without quoting its text (it may hold a secret)', async () => {
    const file = configFile(`{ "registration": { "initialAccessToken": "${SECRET}" } oops }`);
    await assert.rejects(loadBrokerConfig(file, {}), (error: Error) => {
      assert.match(error.message, /is not valid JSON/);
      assert.equal(error.message.includes(SECRET), false, 'the secret is echoed');
      assert.equal(error.message.includes(SECRET.slice(0, 12)), false, 'part of the secret is echoed');
      return true;
    });
  });

  it('refuses a missing file naming the file and the error code', async () => {
    await assert.rejects(loadBrokerConfig(join(directory, 'absent.json'), {}), /absent\.json: ENOENT/);
  });

  it('names the path of every invalid or unknown field', async () => {
    const file = configFile(JSON.stringify({ ...valid, port: 70000, typo: true }));
    await assert.rejects(loadBrokerConfig(file, {}), (error: Error) => {
      assert.match(error.message, /port:/);
      assert.match(error.message, /typo/);
      return true;
    });
  });

  it('stores durably by default (embedded, in .baton/broker); a directory in the file is relative to the file, one from BATON_BROKER_STORE to the working directory; memory only when asked', async () => {
    const env = { BATON_BROKER_INITIAL_ACCESS_TOKEN: SECRET };
    const byDefault = await loadBrokerConfig(configFile(JSON.stringify(valid)), env);
    assert.deepEqual(byDefault.config.store, { kind: 'embedded' });
    const inFile = configFile(JSON.stringify({ ...valid, store: { kind: 'embedded', directory: 'state' } }));
    assert.deepEqual((await loadBrokerConfig(inFile, env)).config.store, {
      kind: 'embedded',
      directory: join(directory, 'state'),
    });
    assert.deepEqual(
      (await loadBrokerConfig(inFile, { ...env, BATON_BROKER_STORE: 'elsewhere' })).config.store,
      { kind: 'embedded', directory: resolve('elsewhere') },
    );
    const memory = configFile(JSON.stringify({ ...valid, store: { kind: 'memory' } }));
    assert.deepEqual((await loadBrokerConfig(memory, { ...env, BATON_BROKER_STORE: 'x' })).config.store, {
      kind: 'memory',
    });
  });

  it('takes HTTPS and mutual TLS files and DPoP nonces, the nonce secret from the environment', async () => {
    const env = { BATON_BROKER_INITIAL_ACCESS_TOKEN: SECRET };
    const nonceSecret = Buffer.alloc(32, 1).toString('base64url');
    const file = configFile(
      JSON.stringify({
        ...valid,
        tls: {
          certFile: 'broker.pem',
          keyFile: 'broker-key.pem',
          clientCaFile: 'workload-ca.pem',
          clientCertificates: 'required',
        },
        dpop: { requireNonce: true },
      }),
    );
    const { config } = await loadBrokerConfig(file, { ...env, BATON_BROKER_DPOP_NONCE_SECRET: nonceSecret });
    assert.deepEqual(config.tls, {
      certFile: 'broker.pem',
      keyFile: 'broker-key.pem',
      clientCaFile: 'workload-ca.pem',
      clientCertificates: 'required',
    });
    assert.deepEqual(config.dpop, { requireNonce: true, nonceSecret });
    const wrong = configFile(
      JSON.stringify({ ...valid, tls: { certFile: 'a', keyFile: 'b', clientCertificates: 'sometimes' } }),
    );
    await assert.rejects(loadBrokerConfig(wrong, env), /tls\.clientCertificates/);
  });

  it('requires an initial access token for registration, and takes it from the environment', async () => {
    const file = configFile(JSON.stringify(valid));
    await assert.rejects(loadBrokerConfig(file, {}), /BATON_BROKER_INITIAL_ACCESS_TOKEN/);
    const { config } = await loadBrokerConfig(file, { BATON_BROKER_INITIAL_ACCESS_TOKEN: SECRET });
    assert.equal(config.registration.initialAccessToken, SECRET);
  });

  it('takes registration approvals, each with its own token (from the file or the environment)', async () => {
    const file = configFile(
      JSON.stringify({
        ...valid,
        registration: {
          approvals: [
            { name: 'ledger-services', resources: ['https://ledger.example/api'], clientCredentials: true },
          ],
        },
        fetchAllowedHosts: ['keys.example'],
      }),
    );
    await assert.rejects(loadBrokerConfig(file, {}), /BATON_BROKER_APPROVAL_TOKEN_LEDGER_SERVICES/);
    const { config } = await loadBrokerConfig(file, { BATON_BROKER_APPROVAL_TOKEN_LEDGER_SERVICES: SECRET });
    assert.equal(config.registration.approvals[0]?.initialAccessToken, SECRET);
    assert.deepEqual(config.fetchAllowedHosts, ['keys.example']);
  });
});
