import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent, AuditSink } from '@baton/audit';
import express from 'express';
import { downstreamIdentity } from '../src/express.ts';
import type { DownstreamVerifier } from '../src/index.ts';
import { downstreamIdentityListener } from '../src/node.ts';

// The adapters' answer holding, on real HTTP with real Express. The verifier is reduced to "the bearer
// names the user": token checking is covered by the conformance suite (adapters.test.ts); what is under
// test here is what the adapters let out, and when, around the audit write.
const verifier: DownstreamVerifier = {
  audience: 'https://api.example',
  async verify(headers) {
    const user = (headers.get('authorization') ?? '').replace(/^Bearer /, '');
    return Object.freeze({
      user,
      tenant: null,
      agent: 'agent-1',
      chain: Object.freeze(['agent-1']),
      mode: 'restricted_user' as const,
      scopes: Object.freeze([]),
      traceId: '1'.repeat(32),
      spanId: '2'.repeat(16),
    });
  },
};

function slowAudit(events: AuditEvent[], delayMs = 20): AuditSink {
  return {
    async write(event) {
      await sleep(delayMs);
      events.push(event);
    },
  };
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

const auditDown: AuditSink = {
  async write() {
    throw new Error('audit store down');
  },
};

/** Serves `listener` on a free loopback port while `use` runs; `call()` is alice's GET /orders. */
async function withServer(
  listener: RequestListener,
  use: (call: () => Promise<Response>) => Promise<void>,
): Promise<void> {
  const server = createServer(listener);
  const port = await listen(server);
  try {
    await use(() =>
      fetch(`http://127.0.0.1:${port}/orders`, {
        headers: { authorization: 'Bearer alice' },
        signal: AbortSignal.timeout(5000),
      }),
    );
  } finally {
    server.close();
  }
}

describe('held answers: what leaves before and after the audit record', () => {
  it("an Express handler that fails after answering cannot splice another user's answer into the connection", async () => {
    const events: AuditEvent[] = [];
    const app = express();
    app.set('env', 'test');
    app.get('/orders', downstreamIdentity({ verifier, audit: slowAudit(events) }), async (req, res) => {
      if (req.query.fail) {
        res.json({ for: req.baton!.user });
        throw new Error('post-processing failed');
      }
      res.json({ orders_of: req.baton!.user, secret: 'card-4242' });
    });
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const server = createServer(app);
    const port = await listen(server);
    try {
      // One connection reused for two callers, as a proxy's pool would: mallory's call, then bob's.
      const socket = connect(port, '127.0.0.1');
      let wire = '';
      socket.on('data', (chunk) => {
        wire += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.write('GET /orders?fail=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer mallory\r\n\r\n');
      await sleep(100);
      socket.write('GET /orders HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer bob\r\n\r\n');
      await sleep(200);
      socket.destroy();
      assert.ok(!wire.includes('card-4242'), `bob's answer leaked into mallory's connection: ${wire}`);
      assert.equal(uncaught.length, 0, uncaught.map((error) => error.message).join('; '));
    } finally {
      process.off('uncaughtException', onUncaught);
      server.close();
    }
  });

  it('a Node handler that answers and then throws, with the audit down, sends the 500 and not its answer', async () => {
    await withServer(
      downstreamIdentityListener(
        {
          verifier,
          audit: auditDown,
          onerror: () => {},
        },
        async (_request, response) => {
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.end('SECRET-ORDERS-OF-ALICE');
          throw new Error('post-processing failed');
        },
      ),
      async (call) => {
        const answer = await call();
        assert.equal(answer.status, 500);
        assert.ok(!(await answer.text()).includes('SECRET'));
      },
    );
  });

  it('a Node handler that waits for its own response to finish is answered, and audited with its status', async () => {
    const events: AuditEvent[] = [];
    await withServer(
      downstreamIdentityListener({ verifier, audit: slowAudit(events) }, async (_request, response) => {
        response.writeHead(201, { 'content-type': 'text/plain' });
        response.write('a');
        response.end('bc');
        await once(response, 'finish');
      }),
      async (call) => {
        const answer = await call();
        assert.equal(answer.status, 201);
        assert.equal(await answer.text(), 'abc');
        assert.equal(events.length, 1);
        assert.equal(events[0]!.outcome, 'ok');
      },
    );
  });

  it('headers cannot change once the answer has started, as if it had been sent', async () => {
    const errors: string[] = [];
    await withServer(
      downstreamIdentityListener({ verifier, audit: slowAudit([]) }, (_request, response) => {
        response.statusCode = 200;
        response.write('x');
        assert.equal(response.headersSent, true);
        try {
          response.setHeader('set-cookie', 'late=1');
        } catch (error) {
          errors.push((error as { code?: string }).code ?? 'none');
        }
        response.end();
      }),
      async (call) => {
        const answer = await call();
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.get('set-cookie'), null);
        assert.deepEqual(errors, ['ERR_HTTP_HEADERS_SENT']);
      },
    );
  });
  it('a status changed after the answer started does not reach the client: what was audited was sent', async () => {
    const events: AuditEvent[] = [];
    await withServer(
      downstreamIdentityListener({ verifier, audit: slowAudit(events) }, async (_request, response) => {
        response.write('a');
        await sleep(5);
        response.statusCode = 500;
        response.end('b');
      }),
      async (call) => {
        const answer = await call();
        assert.equal(answer.status, 200);
        assert.equal(await answer.text(), 'ab');
        assert.equal(events[0]?.outcome, 'ok');
      },
    );
  });

  it('keeps repeated headers of writeHead as Node does, and the wrappers a later middleware adds', async () => {
    const app = express();
    let headHook = 0;
    app.use(downstreamIdentity({ verifier, audit: slowAudit([]) }));
    app.use((_req, res, next) => {
      // compression-style: installed after the hold, transforming what the handler writes
      const { write, end, writeHead } = res;
      res.write = ((chunk: unknown, ...rest: unknown[]) =>
        (write as (...a: unknown[]) => boolean).call(
          res,
          String(chunk).toUpperCase(),
          ...rest,
        )) as typeof res.write;
      res.end = ((chunk: unknown, ...rest: unknown[]) =>
        (end as (...a: unknown[]) => unknown).call(
          res,
          chunk === undefined ? chunk : String(chunk).toUpperCase(),
          ...rest,
        )) as typeof res.end;
      res.writeHead = ((...args: unknown[]) => {
        headHook++;
        return (writeHead as (...a: unknown[]) => unknown).apply(res, args);
      }) as typeof res.writeHead;
      next();
    });
    app.get('/orders', async (_req, res) => {
      res.writeHead(200, ['set-cookie', 'a=1', 'set-cookie', 'b=2']);
      res.write('a');
      await sleep(30);
      res.end('b');
    });
    await withServer(app, async (call) => {
      const answer = await call();
      assert.deepEqual(answer.headers.getSetCookie(), ['a=1', 'b=2']);
      assert.equal(await answer.text(), 'AB');
      assert.equal(headHook >= 1, true);
    });
  });

  it('a handler still writing after its answer was replaced (audit down) cannot crash the process', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const server = createServer(
      downstreamIdentityListener(
        {
          verifier,
          audit: auditDown,
          onerror: () => {},
        },
        async (_request, response) => {
          response.write('part-');
          for (let i = 0; i < 20; i++) {
            await sleep(2);
            response.write(`late-${i}`);
          }
          response.end();
        },
      ),
    );
    const port = await listen(server);
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/orders`, {
        headers: { authorization: 'Bearer alice' },
      });
      assert.equal(answer.status, 500);
      assert.ok(!(await answer.text()).includes('part-'));
      await sleep(80);
      assert.equal(uncaught.length, 0, uncaught.map((error) => error.message).join('; '));
    } finally {
      process.off('uncaughtException', onUncaught);
      server.close();
    }
  });
});
