import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Stack, startStack } from './fixtures/stack.ts';

/** The boundary reads a JSON-RPC body once (to see which tools it calls) and only for a caller it admitted. */
describe('the JSON-RPC body the boundary reads', () => {
  let stack: Stack;
  let token: string;
  before(async () => {
    stack = await startStack({ boundary: { maxRequestBodySize: 4096 } });
    token = await stack.tokenFor('alice');
  });
  after(() => stack.close());

  const post = (body: string, authorization?: string) =>
    fetch(stack.resource, {
      method: 'POST',
      headers: {
        ...(authorization ? { authorization } : {}),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body,
    });

  it("an anonymous caller's body is not read by the boundary: a body over the limit gets 401, not 413", async () => {
    const response = await post(`"${'x'.repeat(64 * 1024)}"`);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
  });

  it('refuses an authenticated body over maxRequestBodySize with 413 before parsing it', async () => {
    const response = await post(`"${'x'.repeat(64 * 1024)}"`, `Bearer ${token}`);
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error.code, -32000);
  });

  it("answers an authenticated body that is not JSON with the SDK's 400 parse error", async () => {
    const response = await post('{"jsonrpc": "2.0", ', `Bearer ${token}`);
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error.code, -32700);
    assert.equal(body.id, null);
  });

  it('refuses a batch that hides a tool lacking scope among allowed calls (403 step-up, audited per tool)', async () => {
    const readOnly = await stack.tokenFor('alice', 'orders:read');
    const auditBefore = stack.audit.events.length;
    const call = (id: number, name: string, args: object) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: args },
    });
    const response = await post(
      JSON.stringify([call(1, 'list_orders', {}), call(2, 'create_order', { item: 'x' })]),
      `Bearer ${readOnly}`,
    );
    assert.equal(response.status, 403);
    assert.match(response.headers.get('www-authenticate') ?? '', /scope="orders:read orders:write"/);
    const denied = stack.audit.events.slice(auditBefore);
    assert.deepEqual(
      denied.map((event) => [event.target.name, event.outcome, event.reason]),
      [['create_order', 'denied', 'scope_insufficient']],
    );
  });
});

describe('batches and notifications at the pre-dispatch step-up', () => {
  let stack: Stack;
  let readOnly: string;
  before(async () => {
    stack = await startStack();
    readOnly = await stack.tokenFor('alice', 'orders:read');
  });
  after(() => stack.close());

  const post = (body: unknown) =>
    fetch(stack.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${readOnly}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify(body),
    });
  const createOrder = (id: number | undefined) => ({
    jsonrpc: '2.0',
    ...(id === undefined ? {} : { id }),
    method: 'tools/call',
    params: { name: 'create_order', arguments: { item: 'x' } },
  });

  it('an attacker repeating a refused tool in a batch gets one audit record, not one per message', async () => {
    const before = stack.audit.events.length;
    const response = await post(Array.from({ length: 100 }, (_, index) => createOrder(index + 1)));
    assert.equal(response.status, 403);
    assert.equal(stack.audit.events.length - before, 1);
  });

  it('refuses a batch longer than the SDK serves (101 messages) with 400, writing nothing to the audit', async () => {
    const before = stack.audit.events.length;
    const response = await post(Array.from({ length: 101 }, (_, index) => createOrder(index + 1)));
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.code, -32600);
    assert.equal(stack.audit.events.length, before);
  });

  it('a tools/call notification (no id) is never dispatched, so it draws no step-up and no audit record', async () => {
    const before = stack.audit.events.length;
    const response = await post(createOrder(undefined));
    assert.notEqual(response.status, 403);
    assert.equal(stack.audit.events.length, before);
  });
});
