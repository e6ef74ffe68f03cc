import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { ACCESS_TOKEN_TYPE, MemoryTokenRegistry } from '../src/index.ts';
import { loadSigningKeys, rotateSigningKeys } from '../src/signing-keys.ts';
import { exchange } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, startBrokerStack } from './fixtures/stack.ts';

describe('broker signing key rotation', () => {
  it('keeps accepting tokens signed by the previous key after a rotation and restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-keys-'));
    const keysFile = join(dir, 'keys.json');
    const registry = new MemoryTokenRegistry();
    try {
      const before = await startBrokerStack({ signingKeys: await loadSigningKeys(keysFile), registry });
      const userToken = await before.userToken();
      const hop1 = await exchange(before.broker.issuer, before.orders, {
        subject_token: userToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
      });
      assert.equal(hop1.status, 200);
      const oldKid = decodeProtectedHeader(hop1.body.access_token as string).kid;
      await before.close();

      const keys = await rotateSigningKeys(keysFile);
      assert.notEqual(keys[0]!.kid, oldKid);
      // The restarted instance keeps the deployment's issuer, registry and clients; only the key changed.
      const after = await startBrokerStack({ signingKeys: keys, registry, issuer: before.broker.issuer });
      try {
        const jwks = (await (await fetch(`${after.broker.url.origin}/jwks`)).json()) as {
          keys: Array<{ kid: string }>;
        };
        assert.deepEqual(jwks.keys.map((key) => key.kid).sort(), [keys[0]!.kid, oldKid].sort());
        const hop2 = await exchange(
          after.broker.url.origin,
          after.billing,
          {
            subject_token: hop1.body.access_token as string,
            subject_token_type: ACCESS_TOKEN_TYPE,
            resource: BILLING_API,
          },
          { assertion: await after.billing.assertion(after.broker.issuer) },
        );
        assert.equal(hop2.status, 200, JSON.stringify(hop2.body));
        assert.equal(
          decodeProtectedHeader(hop2.body.access_token as string).kid,
          keys[0]!.kid,
          'new tokens use the new key',
        );
      } finally {
        await after.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
