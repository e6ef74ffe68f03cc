import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { closeServer } from '../src/listen.ts';
import { type LoadBalancer, startLoadBalancer } from '../src/load-balancer.ts';

/** A POST through `balancer`'s socket, naming `host` as clients would. */
function post(balancer: LoadBalancer, host: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }>(
    (resolve, reject) => {
      const call = request(
        {
          host: '127.0.0.1',
          port: new URL(balancer.url).port,
          path: '/mcp',
          method: 'POST',
          headers: { host, ...headers },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () =>
            resolve({ status: response.statusCode!, headers: response.headers, json: JSON.parse(text) }),
          );
        },
      );
      call.on('error', reject);
      call.end(body);
    },
  );
}

/** An upstream that answers with what it saw, or streams two events with a pause between them. */
function upstream(name: string, release: Promise<void>): Promise<Server> {
  const server = createServer((incoming, outgoing) => {
    if (incoming.url === '/events') {
      outgoing.writeHead(200, { 'content-type': 'text/event-stream' });
      outgoing.write('data: first\n\n');
      void release.then(() => outgoing.end('data: second\n\n'));
      return;
    }
    let body = '';
    incoming.on('data', (chunk) => {
      body += chunk;
    });
    incoming.on('end', () => {
      outgoing.writeHead(200, {
        'content-type': 'application/json',
        connection: 'close, x-hop',
        'x-hop': '1',
      });
      outgoing.end(JSON.stringify({ name, host: incoming.headers.host, headers: incoming.headers, body }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the demo load balancer', () => {
  let balancer: LoadBalancer;
  let upstreams: Server[];
  let release: () => void;

  before(async () => {
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    upstreams = [await upstream('a', released), await upstream('b', released)];
    balancer = await startLoadBalancer({ host: '127.0.0.1', port: 0, publicHost: 'localhost' });
    balancer.upstreams = upstreams.map(
      (server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    );
  });

  after(async () => {
    release();
    await balancer.close();
    for (const server of upstreams) await closeServer(server);
  });

  it('sends requests to each instance in turn, with the public Host, the body, and no hop-by-hop header', async () => {
    const publicHost = new URL(balancer.url).host;
    assert.match(publicHost, /^localhost:\d+$/);
    const seen: Array<{ name: string; host: string; headers: Record<string, string>; body: string }> = [];
    for (let index = 0; index < 4; index++) {
      const response = await post(
        balancer,
        publicHost,
        { authorization: 'Bearer opaque', 'proxy-authorization': 'Basic x' },
        `call ${index}`,
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers['x-hop'], undefined);
      seen.push(response.json as (typeof seen)[number]);
    }
    assert.deepEqual(
      seen.map((answer) => answer.name),
      ['a', 'b', 'a', 'b'],
    );
    assert.deepEqual(balancer.counts, [2, 2]);
    for (const [index, answer] of seen.entries()) {
      assert.equal(answer.host, publicHost, 'the instance sees the URL clients use, not its own');
      assert.equal(answer.body, `call ${index}`);
      assert.equal(answer.headers.authorization, 'Bearer opaque', 'the bearer token reaches the instance');
      assert.equal(answer.headers['proxy-authorization'], undefined, 'credentials for the proxy stop there');
    }
  });

  it("a client's Connection header cannot strip Host, Content-Length or Authorization from the request", async () => {
    const publicHost = new URL(balancer.url).host;
    const response = await post(
      balancer,
      publicHost,
      {
        connection: 'host, content-length, authorization, x-named',
        authorization: 'Bearer opaque',
        'x-named': '1',
      },
      'the body',
    );
    assert.equal(response.status, 200);
    const answer = response.json as { host: string; headers: Record<string, string>; body: string };
    assert.equal(answer.host, publicHost, 'the instance still sees the public Host');
    assert.equal(answer.headers.authorization, 'Bearer opaque');
    assert.equal(answer.headers['content-length'], String('the body'.length));
    assert.equal(answer.body, 'the body');
    assert.equal(answer.headers['x-named'], undefined, 'other named headers are still hop-by-hop');
  });

  it('spoofed Forwarded and X-Forwarded-* from a client are replaced with what the balancer saw', async () => {
    const publicHost = new URL(balancer.url).host;
    const response = await post(
      balancer,
      publicHost,
      {
        forwarded: 'for=1.2.3.4;proto=https',
        'x-forwarded-for': '1.2.3.4',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-port': '443',
      },
      '',
    );
    const { headers } = response.json as { headers: Record<string, string> };
    assert.equal(headers.forwarded, undefined);
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-host'], publicHost);
    assert.equal(headers['x-forwarded-port'], undefined);
  });

  it('streams an event stream as the instance writes it, not when it ends', async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const call = request(`http://127.0.0.1:${new URL(balancer.url).port}/events`, (response) => {
        response.once('data', (chunk) => resolve(String(chunk)));
      });
      call.on('error', reject);
      call.end();
    });
    assert.equal(first, 'data: first\n\n', 'the first event arrived while the stream is still open');
    release();
  });

  it('answers 502, and nothing else, when an instance cannot be reached', async () => {
    const down = await startLoadBalancer({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1' });
    try {
      down.upstreams = ['http://127.0.0.1:1'];
      const response = await fetch(down.url);
      assert.equal(response.status, 502);
      assert.equal(await response.text(), '');
    } finally {
      await down.close();
    }
  });
});
