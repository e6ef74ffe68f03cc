import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { exchangeToken } from '@baton/broker-client';
import { DEMO_USERS, obtainUserAccessToken } from '@baton/demo-idp';
import {
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
} from '@baton/workload-identity';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type DemoTopology, startTopology } from '../src/topology.ts';
import { DEMO_HOPS } from '../src/workload-pki.ts';

describe('the demo hops talk mutual TLS, each with its workload certificate', () => {
  let demo: DemoTopology;
  const audit = new MemoryAuditSink();
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    demo = await startTopology(
      {
        host: '127.0.0.1',
        idpPort: 0,
        ordersMcpPort: 0,
        billingMcpPort: 0,
        ordersApiPort: 0,
        billingApiPort: 0,
        brokerPort: 0,
      },
      { audit },
    );
  });
  after(async () => {
    for (const close of closers) await close();
    await demo.close();
  });

  /** A fetch over a dispatcher of our choosing, closed after the suite. */
  function fetchWith(dispatcher: ReturnType<typeof mutualTlsDispatcher>): typeof fetch {
    closers.push(() => dispatcher.close());
    return (input, init) => fetch(input, { ...init, dispatcher } as RequestInit);
  }

  it('gives every hop a SPIFFE ID in the demo trust domain and a certificate from the internal CA', () => {
    assert.ok(demo.pki.caPem?.includes('BEGIN CERTIFICATE'));
    for (const hop of DEMO_HOPS) {
      const identity = demo.pki.identities[hop];
      assert.equal(identity.spiffeId, `spiffe://baton.demo/${hop}`);
      assert.ok(identity.clientTls, `${hop} presents a certificate`);
    }
    for (const url of [demo.urls.billingMcp, demo.urls.ordersApi, demo.urls.billingApi]) {
      assert.match(url, /^https:\/\//);
    }
  });

  it('an API refuses a connection without a client certificate', async () => {
    // Trusting the demo CA, so the server is authenticated; but presenting nothing.
    const anonymous = fetchWith(mutualTlsDispatcher({ ca: demo.pki.caPem! }));
    for (const url of [
      `${demo.urls.billingApi}/invoices`,
      `${demo.urls.ordersApi}/orders`,
      demo.urls.billingMcp,
    ]) {
      await assert.rejects(anonymous(url), `${url} served a caller without a certificate`);
    }
  });

  it('an API refuses a certificate from another CA, even one naming a demo hop', async () => {
    const elsewhere = await createCertificateAuthority({ trustDomain: 'baton.demo' });
    const impostor = await issueWorkloadCertificate(elsewhere, {
      spiffeId: 'spiffe://baton.demo/billing-mcp',
    });
    const asImpostor = fetchWith(mutualTlsDispatcher({ identity: impostor, ca: demo.pki.caPem! }));
    await assert.rejects(asImpostor(`${demo.urls.billingApi}/invoices`));
  });

  it('a hop with its certificate reaches the next one: the agent question crosses every hop', async () => {
    const { access_token } = await obtainUserAccessToken(demo.idp, {
      username: DEMO_USERS.alice.username,
      password: DEMO_USERS.alice.password,
      resource: demo.urls.ordersMcp,
      scope: 'orders:read billing:read',
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(demo.urls.ordersMcp), {
        authProvider: { token: async () => access_token },
      }),
    );
    try {
      const result = await client.callTool({ name: 'order_summary', arguments: {} });
      const summary = JSON.parse((result.content as Array<{ text: string }>)[0]!.text);
      assert.deepEqual(
        summary.invoices.map((invoice: { id: string }) => invoice.id),
        ['INV-77', 'INV-78'],
      );
    } finally {
      await client.close();
    }
    const calls = audit.events.filter((event) => event.action === 'api.call' && event.outcome === 'ok');
    assert.ok(calls.some((event) => event.target.name === 'GET /api/invoices'));
    // Each hop's SPIFFE ID reaches the audit: the broker names the workload each exchange was for, and
    // binds the token to the certificate it presented (RFC 8705 §3).
    for (const [hop, audience] of [
      ['orders-mcp', demo.urls.billingMcp],
      ['billing-mcp', demo.urls.billingApi],
    ] as const) {
      const exchange = audit.events.find(
        (event) =>
          event.action === 'token.exchange' && event.outcome === 'ok' && event.target.name === audience,
      );
      assert.equal(exchange?.workload_id, `spiffe://baton.demo/${hop}`, `${hop}'s exchange`);
      assert.deepEqual(exchange?.cnf, { 'x5t#S256': demo.pki.identities[hop].certificate!.thumbprint });
    }
  });

  it("refuses a token bound to one hop's certificate when another hop presents it", async () => {
    // The billing MCP server's token for the billing API, as its exchange would return it…
    const { access_token } = await obtainUserAccessToken(demo.idp, {
      username: DEMO_USERS.alice.username,
      password: DEMO_USERS.alice.password,
      resource: demo.urls.billingMcp,
      scope: 'billing:read',
    });
    const exchanged = await exchangeToken(
      demo.broker.issuer,
      demo.broker.billingMcp,
      { subjectToken: access_token, resource: demo.urls.billingApi, scope: ['billing:read'] },
      { fetch: demo.pki.identities['billing-mcp'].fetch },
    );
    const call = (hop: 'billing-mcp' | 'orders-mcp') =>
      demo.pki.identities[hop].fetch(`${demo.urls.billingApi}/invoices`, {
        headers: { authorization: `Bearer ${exchanged.access_token}` },
      });
    assert.equal((await call('billing-mcp')).status, 200);
    // …stolen by another hop, whose certificate is just as valid, but not the one the token names.
    const stolen = await call('orders-mcp');
    assert.equal(stolen.status, 401);
    assert.match(stolen.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it("refuses a hop that presents another hop's certificate where its caller expects the broker", async () => {
    // The billing API's certificate is valid, from the demo CA and for the demo's host: a compromised
    // billing API squatting where the broker should be would pass a CA and host name check.
    let squatted = 0;
    const squatter = createServer(demo.pki.identities['billing-api'].serverTls!, (request, response) => {
      squatted += 1;
      request.resume();
      response.end('{}');
    });
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    closers.push(async () => {
      squatter.closeAllConnections();
      squatter.close();
    });
    const origin = `https://127.0.0.1:${(squatter.address() as AddressInfo).port}`;
    demo.pki.pin(origin, 'broker');
    await assert.rejects(
      demo.pki.identities['orders-mcp'].fetch(`${origin}/token`, { method: 'POST', body: 'subject_token=…' }),
      (error: Error) => {
        assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_TLS_SERVER_SPIFFE_ID_MISMATCH');
        return true;
      },
    );
    assert.equal(squatted, 0, 'no request reached the squatter');
    // The real broker, whose certificate names it, is reached by the same fetch.
    const discovery = await demo.pki.identities['orders-mcp'].fetch(
      `${demo.broker.issuer}/.well-known/oauth-authorization-server`,
    );
    assert.equal(discovery.status, 200);
  });
});
