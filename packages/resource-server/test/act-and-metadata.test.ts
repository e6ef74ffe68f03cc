import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  actorsOf,
  delegationOf,
  parseAct,
  protectedResourceMetadata,
  protectedResourceMetadataDocumentResponse,
  protectedResourceMetadataResponse,
} from '../src/index.ts';

/** `depth` nested actors, outermost first; the innermost is the agent. */
function actChain(depth: number): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (let index = depth - 1; index >= 0; index--) {
    act = { sub: `actor-${index}`, ...(act ? { act } : {}) };
  }
  return act;
}

describe('act chain depth agrees with the envelope (at most 32 services and the agent)', () => {
  it('accepts 33 actors: 32 services in between and the agent innermost', () => {
    const { agent, services } = delegationOf({ clientId: 'client', claims: { act: actChain(33) } });
    assert.equal(agent, 'actor-32');
    assert.equal(services.length, 32);
    assert.equal(actorsOf(parseAct(actChain(33))).length, 33);
  });

  for (const depth of [34, 40, 65]) {
    it(`refuses ${depth} actors`, () => {
      assert.throws(() => parseAct(actChain(depth)), TypeError);
      assert.throws(() => delegationOf({ clientId: 'client', claims: { act: actChain(depth) } }), TypeError);
    });
  }

  it('actorsOf refuses an over-deep chain built without parseAct', () => {
    let act: { sub: string; act?: unknown } | undefined;
    for (let index = 0; index < 34; index++) act = { sub: `actor-${index}`, ...(act ? { act } : {}) };
    assert.throws(() => actorsOf(act as never), TypeError);
  });
});

describe('protected resource metadata responses', () => {
  const document = protectedResourceMetadata({
    resource: 'https://orders.example/mcp',
    authorizationServers: ['https://idp.example'],
  });

  it('answers a request already routed to the metadata path, whatever its exact path', async () => {
    const response = protectedResourceMetadataDocumentResponse(
      new Request('https://orders.example/.well-known/oauth-protected-resource/mcp/'),
      document,
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), document);
    const preflight = protectedResourceMetadataDocumentResponse(
      new Request('https://orders.example/.well-known/oauth-protected-resource/mcp/', { method: 'OPTIONS' }),
      document,
    );
    assert.equal(preflight.status, 204);
    const post = protectedResourceMetadataDocumentResponse(
      new Request('https://orders.example/.well-known/oauth-protected-resource/mcp', { method: 'POST' }),
      document,
    );
    assert.equal(post.status, 405);
  });

  it('the path-checking helper still answers only its exact path', () => {
    assert.equal(
      protectedResourceMetadataResponse(new Request('https://orders.example/other'), document),
      undefined,
    );
    assert.equal(
      protectedResourceMetadataResponse(
        new Request('https://orders.example/.well-known/oauth-protected-resource/mcp'),
        document,
      )?.status,
      200,
    );
  });
});
