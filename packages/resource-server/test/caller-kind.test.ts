import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AccessTokenClaims, defaultCallerKind } from '../src/index.ts';

const claims = (
  subject: string,
  clientId: string,
  extra: Record<string, unknown> = {},
): AccessTokenClaims => ({
  issuer: 'https://idp.example',
  subject,
  clientId,
  scopes: [],
  audience: ['https://mcp.example/mcp'],
  expiresAt: Math.floor(Date.now() / 1000) + 60,
  claims: extra,
});

describe('defaultCallerKind: people and machines (RFC 9068 §2.2)', () => {
  it('a client-credentials token (sub is the client) is a service, not a person', () => {
    assert.equal(defaultCallerKind(claims('machine-client', 'machine-client')), 'service');
  });

  it('a token issued to an agent for a person is a user', () => {
    assert.equal(defaultCallerKind(claims('alice', 'agent-1')), 'user');
  });

  it('a broker token for a person, presented by a service in the chain, is still the person', () => {
    assert.equal(
      defaultCallerKind(
        claims('alice', 'orders-mcp', { act: { sub: 'orders-mcp', act: { sub: 'agent-1' } } }),
      ),
      'user',
    );
  });

  it("a machine's token exchanged by a service stays a machine: sub is the chain's agent (innermost act)", () => {
    assert.equal(
      defaultCallerKind(
        claims('batch-job', 'orders-mcp', { act: { sub: 'orders-mcp', act: { sub: 'batch-job' } } }),
      ),
      'service',
    );
  });

  it('a malformed act is not taken for a person', () => {
    assert.equal(defaultCallerKind(claims('alice', 'orders-mcp', { act: { act: 'x' } })), 'service');
  });
});
