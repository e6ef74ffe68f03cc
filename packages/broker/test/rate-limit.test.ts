import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCESS_TOKEN_TYPE } from '../src/index.ts';
import { exchangeRateLimiters } from '../src/token-exchange/checks/rate-limit.ts';
import { exchange } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';
import { deleteKeys, openRedis, type TestRedis, uniquePrefix } from './stores/servers.ts';

const toBilling = (token: string) => ({
  subject_token: token,
  subject_token_type: ACCESS_TOKEN_TYPE,
  resource: BILLING_MCP,
  scope: 'billing:read',
});

describe('token exchanges are rate limited per client (shared in Redis) and per subject', () => {
  let stack: BrokerStack;
  let redis: TestRedis;
  const keyPrefix = `baton-test:${uniquePrefix()}`;
  let alice: string;
  let bob: string;

  before(async () => {
    redis = await openRedis();
    stack = await startBrokerStack({
      rateLimits: {
        perClient: { points: 3, durationSeconds: 60 },
        perSubject: { points: 2, durationSeconds: 60 },
        store: { redis, keyPrefix },
      },
    });
    alice = await stack.userToken('alice');
    bob = await stack.userToken('bob');
  });
  after(async () => {
    await stack?.close();
    if (redis) {
      await deleteKeys(redis, keyPrefix);
      await redis.close();
    }
  });

  it('refuses a person over the per-subject limit with 429 slow_down and Retry-After, while another person is unaffected', async () => {
    assert.equal((await exchange(stack.broker.issuer, stack.orders, toBilling(alice))).status, 200);
    assert.equal((await exchange(stack.broker.issuer, stack.orders, toBilling(alice))).status, 200);
    const refused = await exchange(stack.broker.issuer, stack.orders, toBilling(alice));
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, 'slow_down');
    assert.match(String(refused.body.error_description), /retry after \d+ seconds/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    // The client's own budget (3) is spent by now: a fourth request is refused per client.
    const bobs = await exchange(stack.broker.issuer, stack.orders, toBilling(bob));
    assert.equal(bobs.status, 429);
  });

  it('limits per client: another client is unaffected by the orders server’s exhausted budget', async () => {
    // billing-mcp is not allowed this audience by policy: refused, but as policy says, not as rate-limited.
    const other = await exchange(stack.broker.issuer, stack.billing, toBilling(bob));
    assert.notEqual(other.status, 429);
  });

  it('audits each refusal as rate_limited, and logs which limit without the token', () => {
    const limited = stack.audit.events.filter((event) => event.reason === 'rate_limited');
    assert.equal(limited.length, 2);
    assert.ok(limited.every((event) => event.outcome === 'denied' && event.action === 'token.exchange'));
    const details = stack.logs.filter((line) => line.reason === 'rate_limited').map((line) => line.detail);
    assert.deepEqual(details, ['per subject', 'per client']);
    assert.ok(!JSON.stringify(stack.logs).includes(alice));
  });

  it('keeps the count in Redis under the configured prefix, so every broker instance shares it', async () => {
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${keyPrefix}*` })) keys.push(...batch);
    assert.ok(
      keys.some((key) => key.startsWith(`${keyPrefix}:client`)),
      keys.join(','),
    );
    assert.ok(
      keys.some((key) => key.startsWith(`${keyPrefix}:subject`)),
      keys.join(','),
    );
  });
});

describe('exchange rate limits are validated when the broker starts', () => {
  it('refuses a limit that is not a positive integer', () => {
    assert.throws(
      () => exchangeRateLimiters({ perClient: { points: 0, durationSeconds: 60 } }),
      /points and durationSeconds must be positive integers/,
    );
    assert.throws(
      () => exchangeRateLimiters({ perSubject: { points: 5, durationSeconds: 1.5 } }),
      /positive integers/,
    );
  });
});
