import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listTraces, loadTrace, parseFilters, type TraceSummary, traceJson } from '../src/index.ts';
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

  test('an acme auditor viewing a trace with a hidden other-tenant event learns nothing about the other tenant: no count, no sub, no tenant, no mixed flag', async () => {
    const acmeJson = await (await console_.get(`/api/traces/${SPANNING_TRACE}`, cookies.acme)).text();
    const acme = JSON.parse(acmeJson) as {
      hops: Array<{ event: { initiator: { sub: string } } }>;
      mixed_initiators: boolean;
      initiators: unknown[];
      summary: TraceSummary;
    };
    assert.deepEqual(
      acme.hops.map((hop) => hop.event.initiator.sub),
      ['alice'],
    );
    assert.equal(
      acme.mixed_initiators,
      false,
      'a flag raised by hidden events would say someone else was there',
    );
    assert.deepEqual(acme.initiators, [{ sub: 'alice', tenant: 'acme' }]);
    assert.equal(acme.summary.events, 1);
    assert.ok(!('other_tenants_hidden' in acme) && !('other_tenants_hidden' in acme.summary));
    assert.doesNotMatch(acmeJson, /mallory|"other"|hidden/);
    const page = await (await console_.get(`/traces/${SPANNING_TRACE}`, cookies.acme)).text();
    assert.doesNotMatch(page, /mallory|other tenant|not shown|[Mm]ixed/);
    const row = (await list(cookies.acme)).find((trace) => trace.trace_id === SPANNING_TRACE)!;
    assert.equal(row.events, 1);
    assert.equal(row.mixed_initiators, false);
    assert.deepEqual(row.users, ['alice']);
    // Exactly what acme's auditor would get if the other tenant had never used this trace id.
    const withoutOther = tenantEvents().filter(
      (event) => !(event.trace_id === SPANNING_TRACE && event.initiator.tenant === 'other'),
    );
    const acmeScope = { kind: 'tenant', tenant: 'acme' } as const;
    const reader = await fixtureSink([...fixtureEvents(), ...tenantEvents()]);
    const control = await fixtureSink([...fixtureEvents(), ...withoutOther]);
    assert.deepEqual(
      traceJson((await loadTrace(reader, SPANNING_TRACE, acmeScope))!),
      traceJson((await loadTrace(control, SPANNING_TRACE, acmeScope))!),
    );
    const filters = parseFilters(new URLSearchParams());
    assert.deepEqual(
      await listTraces(reader, filters, acmeScope),
      await listTraces(control, filters, acmeScope),
    );
    // The other tenant's auditor, in turn, sees only mallory's event.
    const other = (await (
      await console_.get(`/api/traces/${SPANNING_TRACE}`, cookies.other)
    ).json()) as typeof acme;
    assert.deepEqual(
      other.hops.map((hop) => hop.event.initiator.sub),
      ['mallory'],
    );
    assert.equal(other.mixed_initiators, false);
  });

  test('an auditor holding the all-tenants permission sees every tenant', async () => {
    const ids = (await list(cookies.everyone)).map((trace) => trace.trace_id);
    assert.ok(ids.includes(ALICE_TRACE) && ids.includes(OTHER_TENANT_TRACE));
    const spanning = (await (
      await console_.get(`/api/traces/${SPANNING_TRACE}`, cookies.everyone)
    ).json()) as {
      hops: unknown[];
      mixed_initiators: boolean;
    };
    assert.equal(spanning.hops.length, 2);
    assert.equal(spanning.mixed_initiators, true, 'whoever sees both initiators is told the trace is mixed');
    assert.match(await (await console_.get('/', cookies.everyone)).text(), /all tenants/);
  });
});
