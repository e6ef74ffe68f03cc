import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BearerError,
  bearerChallenge,
  bearerErrorResponse,
  extractBearerToken,
  includesResource,
  insufficientScope,
  invalidToken,
  protectedResourceMetadataUrl,
  sameResource,
} from '../src/index.ts';

describe('RFC 6750 bearer header', () => {
  it('reads exactly one b64token after a case-insensitive Bearer scheme', () => {
    assert.equal(extractBearerToken('Bearer abc.DEF-_~+/='), 'abc.DEF-_~+/=');
    assert.equal(extractBearerToken('bearer abc'), 'abc');
  });

  it('treats an absent header as no credentials (401, no error code)', () => {
    for (const value of [undefined, null, '']) {
      assert.throws(
        () => extractBearerToken(value),
        (error: BearerError) =>
          error.status === 401 && error.error === undefined && error.reason === 'token_missing',
      );
    }
  });

  it('refuses other schemes, missing tokens, extra parts and non-b64token characters with 400', () => {
    for (const value of [
      'Basic abc',
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Bearer a"b',
      'Bearer  abc',
      'DPoP abc',
    ]) {
      assert.throws(
        () => extractBearerToken(value),
        (error: BearerError) => error.status === 400 && error.error === 'invalid_request',
        value,
      );
    }
  });
});

describe('challenges', () => {
  const metadata = 'https://orders.example/.well-known/oauth-protected-resource/mcp';

  it('builds the MCP step-up challenge for insufficient scope', () => {
    assert.equal(
      bearerChallenge(insufficientScope(['a:read', 'a:write'], 'need more'), {
        resourceMetadataUrl: metadata,
        scopes: ['x'],
      }),
      `Bearer resource_metadata="${metadata}", scope="a:read a:write", error="insufficient_scope", error_description="need more"`,
    );
  });

  it('keeps descriptions inside the RFC 6750 character set, in the challenge and the body alike', () => {
    const error = invalidToken('token_expired', 'bad "quote" \u201Ccurly\u201D \u2019 \\ and\nnewline é');
    const expected = "bad 'quote' 'curly' ' / and?newline ?";
    assert.equal(error.description, expected);
    assert.equal(bearerChallenge(error), `Bearer error="invalid_token", error_description="${expected}"`);
  });

  it('answers 503 with Retry-After and no challenge when validation could not run', async () => {
    const error = new BearerError({
      error: 'temporarily_unavailable',
      status: 503,
      reason: 'authorization_server_unavailable',
      description: 'later',
    });
    const response = bearerErrorResponse(error);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('www-authenticate'), null);
    assert.equal(response.headers.get('retry-after'), '5');
  });

  it('turns an unexpected failure into a 500 that says nothing about its cause', async () => {
    const response = bearerErrorResponse(new Error('database password is hunter2'));
    assert.equal(response.status, 500);
    assert.equal((await response.text()).includes('hunter2'), false);
  });
});

describe('resources', () => {
  it('inserts the well-known segment before the resource path (RFC 9728 §3.1)', () => {
    assert.equal(
      protectedResourceMetadataUrl('https://x.example/a/mcp').href,
      'https://x.example/.well-known/oauth-protected-resource/a/mcp',
    );
    assert.equal(
      protectedResourceMetadataUrl('https://x.example/').href,
      'https://x.example/.well-known/oauth-protected-resource',
    );
  });

  it('compares resources exactly, forgiving only a trailing slash and a fragment', () => {
    assert.equal(sameResource('https://x/mcp', 'https://x/mcp/'), true);
    assert.equal(sameResource('https://x/mcp#a', 'https://x/mcp'), true);
    assert.equal(sameResource('https://x/mcp', 'https://x/mcp2'), false);
    assert.equal(sameResource('https://x/mcp', 'http://x/mcp'), false);
    assert.equal(sameResource('https://x/MCP', 'https://x/mcp'), false);
  });

  it('checks a resource against a list by the same rule (includesResource)', () => {
    assert.equal(includesResource(['https://x/other', 'https://x/mcp/'], 'https://x/mcp'), true);
    assert.equal(includesResource(['https://x/mcp#frag'], 'https://x/mcp/'), true);
    assert.equal(includesResource(['https://x/MCP'], 'https://x/mcp'), false);
    assert.equal(includesResource(['https://x/mcp2', 'http://x/mcp'], 'https://x/mcp'), false);
    assert.equal(includesResource([], 'https://x/mcp'), false);
  });
});
