import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { startBroker } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { BILLING_MCP, POLICY } from './fixtures/stack.ts';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Whether a fresh server can bind `port`, closing it again. */
async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('startBroker', () => {
  it('rejects an invalid signing key and leaves its port free', async () => {
    const port = await freePort();
    await assert.rejects(
      startBroker({
        port,
        trustedIssuers: [],
        audiences: [{ resource: BILLING_MCP, scopes: ['billing:read'] }],
        policy: createCedarPolicyEngine({
          policies: POLICY,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
        audit: new MemoryAuditSink(),
        initialAccessToken: 'test-initial-access-token',
        // Not a key: missing every EC parameter but its type.
        signingKeys: [{ kty: 'EC', kid: 'broken', alg: 'ES256' } as never],
      }),
      /jwks\.keys\[0\]/,
    );
    assert.equal(await canBind(port), true, 'the failed start released its socket');
  });
});
