import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import express from 'express';
import { type Stack, startStack } from './fixtures/stack.ts';

describe('transport security and routing at the boundary', () => {
  let stack: Stack;
  let token: string;
  before(async () => {
    stack = await startStack();
    token = await stack.tokenFor('alice');
  });
  after(() => stack.close());

  it('refuses a DNS-rebinding request whose Host is not this server, before looking at the token', async () => {
    const { request } = await import('node:http');
    const url = new URL(stack.resource);
    const status = await new Promise<number>((resolve, reject) => {
      const outgoing = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            host: 'evil.example',
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      outgoing.on('error', reject);
      outgoing.end('{}');
    });
    assert.equal(status, 403);
  });

  it('refuses a cross-site browser request (foreign Origin)', async () => {
    const response = await fetch(stack.resource, {
      method: 'POST',
      headers: {
        origin: 'https://evil.example',
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    assert.equal(response.status, 403);
  });

  it('answers 404 for paths that are not the resource, its metadata or its JWKS', async () => {
    const response = await fetch(new URL('/admin', stack.resource), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 404);
  });

  it('delivers progress notifications from an identity tool to the client', async () => {
    const client = new Client({ name: 'progress-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.resource), {
        authProvider: { token: async () => token },
      }),
    );
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'count_orders', arguments: {} },
      { onprogress: (notification) => progress.push(notification.progress) },
    );
    await client.close();
    assert.equal((result.content as Array<{ text: string }>)[0]!.text, '2');
    assert.deepEqual(progress, [1, 2]);
  });
});

describe('Express adapter', () => {
  it('mounts the protected handler on an Express app and serves metadata, JWKS and MCP', async () => {
    const stack = await startStack();
    try {
      // A second server on its own port: the same boundary, routed by Express.
      const app = express();
      const handler = toNodeHandler(
        stack.boundary.protect({ fetch: async () => new Response('mcp reached') }),
      );
      const paths = [
        new URL(stack.resource).pathname,
        new URL(stack.boundary.resourceMetadataUrl).pathname,
        new URL(stack.boundary.envelopeJwksUrl).pathname,
      ];
      app.all(paths, (request, response) => void handler(request, response));
      app.get('/health', (_request, response) => void response.send('ok'));
      const server = createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        assert.equal((await fetch(`${base}/health`)).status, 200);
        const metadata = await fetch(`${base}${paths[1]}`);
        assert.equal(metadata.status, 200);
        assert.equal(((await metadata.json()) as { resource: string }).resource, stack.resource);
        assert.equal((await fetch(`${base}${paths[2]}`)).status, 200);
        assert.equal((await fetch(`${base}${paths[0]}`, { method: 'POST' })).status, 401);
        const token = await stack.tokenFor('bob');
        const reached = await fetch(`${base}${paths[0]}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(await reached.text(), 'mcp reached');
      } finally {
        server.close();
      }
    } finally {
      await stack.close();
    }
  });
});
