import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import type { RunningConsole } from '@baton/console';
import { DEMO_AUDITOR, DEMO_USERS, obtainUserAccessToken, scriptedLogin } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { prepareAuditConsole } from '../src/audit-console.ts';
import { type DemoTopology, startTopology } from '../src/topology.ts';

const PORTS = {
  host: '127.0.0.1',
  idpPort: 0,
  ordersMcpPort: 0,
  billingMcpPort: 0,
  ordersApiPort: 0,
  billingApiPort: 0,
  brokerPort: 0,
};

/** Signs in at the demo's console the way a browser would; the callback's status and session cookie. */
async function signIn(consoleUrl: string, user: { username: string; password: string }) {
  const start = await fetch(consoleUrl, { redirect: 'manual' });
  const signInCookie = start.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
  const callback = await scriptedLogin(start.headers.get('location')!, user);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: signInCookie } });
  const session = done.headers
    .getSetCookie()
    .find((line) => line.startsWith('baton-console-session=') && !line.includes('Max-Age=0'));
  return { status: done.status, cookie: session?.split(';')[0] };
}

describe('the demo’s audit console', () => {
  let demo: DemoTopology;
  let app: RunningConsole;
  const audit = new MemoryAuditSink();

  before(async () => {
    const prepared = await prepareAuditConsole('127.0.0.1', 0);
    demo = await startTopology(PORTS, { audit, idp: prepared.idp });
    app = await prepared.start({
      issuer: demo.idp.issuer,
      reader: audit,
      audit,
      logger: createLogger({ name: 'audit-console', level: 'silent' }),
    });
    const { access_token } = await obtainUserAccessToken(demo.idp, {
      username: 'alice',
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
    await client.callTool({ name: 'order_summary', arguments: {} });
    await client.close();
  });
  after(async () => {
    await app.close();
    await demo.close();
  });

  it('lets the auditor erin (erin-demo-pw) sign in and read alice’s order_summary trace', async () => {
    const { status, cookie } = await signIn(app.url, DEMO_AUDITOR);
    assert.equal(status, 200);
    const { traces } = (await (
      await fetch(new URL('/api/traces?target=order_summary', app.url), { headers: { cookie: cookie! } })
    ).json()) as {
      traces: Array<{ users: string[]; mixed_initiators: boolean }>;
    };
    assert.equal(traces.length, 1);
    assert.deepEqual(traces[0]!.users, ['user-alice']);
    assert.equal(traces[0]!.mixed_initiators, false);
  });

  it('refuses alice and bob, who hold no audit:read, with 403', async () => {
    for (const user of [DEMO_USERS.alice, DEMO_USERS.bob]) {
      const { status, cookie } = await signIn(app.url, user);
      assert.equal(status, 403, user.username);
      assert.equal(cookie, undefined);
    }
    const refused = audit.events.filter(
      (event) => event.target.name === 'audit console sign-in' && event.outcome === 'denied',
    );
    assert.deepEqual(
      refused.map((event) => [event.initiator.sub, event.reason]),
      [
        ['user-alice', 'permission_missing'],
        ['user-bob', 'permission_missing'],
      ],
    );
  });

  it('answers nothing to a page without a session but a redirect to the IdP', async () => {
    const response = await fetch(app.url, { redirect: 'manual' });
    assert.equal(response.status, 303);
    assert.equal(new URL(response.headers.get('location')!).origin, demo.idp.issuer);
  });
});
