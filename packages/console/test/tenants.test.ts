import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TraceSummary } from '../src/index.ts';
import { ALL_TENANTS_SCOPE, type SignedInConsole, startSignedInConsole } from './fixtures/signed-in.ts';
import { AUDITORS, OTHER_TENANT_TRACE, SPANNING_TRACE, tenantEvents } from './fixtures/tenants.ts';
import { ALICE_TRACE, fixtureEvents, fixtureSink } from './fixtures/three-hop.ts';

const credentials = (auditor: (typeof AUDITORS)[keyof typeof AUDITORS]) => ({
  username: auditor.username,
  password: auditor.password,
});

describe('tenant isolation: an auditor sees only their own tenant', () => {
  let console_: SignedInConsole;
  const cookies: Record<keyof typeof AUDITORS, string> = { acme: '', other: '', everyone: '' };

  before(async () => {
    console_ = await startSignedInConsole({
      reader: await fixtureSink([...fixtureEvents(), ...tenantEvents()]),
      users: Object.values(AUDITORS),
      auth: { allTenantsPermission: ALL_TENANTS_SCOPE },
    });
    for (const name of Object.keys(cookies) as Array<keyof typeof AUDITORS>)
      cookies[name] = (await console_.signIn(credentials(AUDITORS[name]))).cookie!;
  });
  after(() => console_.close());

  const list = async (cookie: string): Promise<TraceSummary[]> =>
    ((await (await console_.get('/api/traces', cookie)).json()) as { traces: TraceSummary[] }).traces;

  test('an auditor of acme does not see a tenant-other trace: not in the list, 404 by URL, 404 by JSON', async () => {
    const cookie = cookies.acme;
    const ids = (await list(cookie)).map((trace) => trace.trace_id);
    assert.ok(ids.includes(ALICE_TRACE));
    assert.ok(!ids.includes(OTHER_TENANT_TRACE));
    const html = await (await console_.get('/', cookie)).text();
    assert.doesNotMatch(html, /mallory/);
    // Filtering by the other tenant's user finds nothing either.
    assert.deepEqual(
      await (async () =>
        ((await (await console_.get('/api/traces?user=mallory', cookie)).json()) as { traces: unknown[] })
          .traces)(),
      [],
    );
    // The same answer as for a trace that does not exist: its existence is not confirmed.
    const page = await console_.get(`/traces/${OTHER_TENANT_TRACE}`, cookie);
    assert.equal(page.status, 404);
    assert.doesNotMatch(await page.text(), /mallory/);
    const api = await console_.get(`/api/traces/${OTHER_TENANT_TRACE}`, cookie);
    assert.equal(api.status, 404);
    assert.deepEqual(await api.json(), {
      error: 'not_found',
      error_description: 'No events were recorded for this trace.',
    });
  });

  test('an auditor of the other tenant sees that trace and none of acme', async () => {
    const ids = (await list(cookies.other)).map((trace) => trace.trace_id);
    assert.ok(ids.includes(OTHER_TENANT_TRACE));
    assert.ok(!ids.includes(ALICE_TRACE));
    assert.equal((await console_.get(`/api/traces/${ALICE_TRACE}`, cookies.other)).status, 404);
  });

  test('a trace spanning tenants shows each auditor only their tenant’s events, and says others were left out', async () => {
    const acme = (await (await console_.get(`/api/traces/${SPANNING_TRACE}`, cookies.acme)).json()) as {
      hops: Array<{ event: { initiator: { sub: string } } }>;
      other_tenants_hidden: boolean;
      mixed_initiators: boolean;
      initiators: unknown[];
    };
    assert.deepEqual(
      acme.hops.map((hop) => hop.event.initiator.sub),
      ['alice'],
    );
    assert.equal(acme.other_tenants_hidden, true);
    assert.equal(acme.mixed_initiators, true, 'the trace is still not one person’s');
    assert.deepEqual(acme.initiators, [{ sub: 'alice', tenant: 'acme' }], 'no name from the other tenant');
    const page = await (await console_.get(`/traces/${SPANNING_TRACE}`, cookies.acme)).text();
    assert.match(page, /Some events of this trace belong to other tenants and are not shown/);
    assert.doesNotMatch(page, /mallory/);
    const other = (await (
      await console_.get(`/api/traces/${SPANNING_TRACE}`, cookies.other)
    ).json()) as typeof acme;
    assert.deepEqual(
      other.hops.map((hop) => hop.event.initiator.sub),
      ['mallory'],
    );
  });

  test('an auditor holding the all-tenants permission sees every tenant', async () => {
    const ids = (await list(cookies.everyone)).map((trace) => trace.trace_id);
    assert.ok(ids.includes(ALICE_TRACE) && ids.includes(OTHER_TENANT_TRACE));
    const spanning = (await (
      await console_.get(`/api/traces/${SPANNING_TRACE}`, cookies.everyone)
    ).json()) as {
      hops: unknown[];
      other_tenants_hidden: boolean;
    };
    assert.equal(spanning.hops.length, 2);
    assert.equal(spanning.other_tenants_hidden, false);
    assert.match(await (await console_.get('/', cookies.everyone)).text(), /all tenants/);
  });
});
