import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { SqlScimStore } from '../src/index.ts';
import { GROUP_SCHEMA, patchOf, type ScimBroker, startScimBroker, userOf } from './fixtures/scim.ts';
import { dropTables, openPool, uniquePrefix } from './stores/servers.ts';

/**
 * Two broker instances, each with its own pool, serving one SCIM directory in PostgreSQL: what one
 * instance provisions the other sees and changes, and the effects follow wherever the request lands.
 */
describe('SCIM on PostgreSQL, shared by two broker instances', () => {
  const prefix = uniquePrefix();
  let pools: pg.Pool[];
  let first: ScimBroker;
  let second: ScimBroker;

  before(async () => {
    pools = [openPool(), openPool()];
    // Both instances run the migration at start; the ledger's lock lets exactly one create the table.
    const [storeA, storeB] = await Promise.all(
      pools.map((pool) => SqlScimStore.create({ pool, tablePrefix: prefix })),
    );
    [first, second] = await Promise.all([
      startScimBroker({ store: storeA }),
      startScimBroker({ store: storeB }),
    ]);
  });

  after(async () => {
    await Promise.all([first?.broker.close(), second?.broker.close()]);
    await dropTables(pools[0]!, prefix);
    await Promise.all(pools.map((pool) => pool.end()));
  });

  it('a user created at one instance is deactivated at the other, and found by filter at both', async () => {
    const created = await first.scim('POST', '/Users', userOf('bob', 'user-bob'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body!.id as string;

    const off = await second.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'replace', path: 'active', value: false }),
    );
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.deepEqual(
      second.lifecycle.calls.map((call) => [call.op, call.target]),
      [['revoke', { subject: 'user-bob' }]],
    );

    for (const instance of [first, second]) {
      const list = await instance.scim('GET', `/Users?filter=${encodeURIComponent('userName eq "bob"')}`);
      assert.equal(list.body!.totalResults, 1);
      const [bob] = list.body!.Resources as Array<Record<string, unknown>>;
      assert.equal(bob!.active, false);
      assert.equal((bob!.meta as { location: string }).location, `${instance.base}/Users/${id}`);
    }

    const on = await first.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'replace', path: 'active', value: true }),
    );
    assert.equal(on.status, 200);
    assert.deepEqual(
      first.lifecycle.calls.map((call) => call.op),
      ['lift'],
    );
  });

  it('refuses the same userName created at the two instances (409 uniqueness from the shared index)', async () => {
    const [a, b] = await Promise.all([
      first.scim('POST', '/Users', userOf('carla', 'user-carla')),
      second.scim('POST', '/Users', userOf('Carla', 'user-carla-2')),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [201, 409]);
    assert.equal((a.status === 409 ? a : b).body!.scimType, 'uniqueness');
  });

  it('concurrent member removals at both instances each revoke their member, and both removals stick', async () => {
    const ids: string[] = [];
    for (const name of ['dan', 'eva']) {
      ids.push((await first.scim('POST', '/Users', userOf(name, `user-${name}`))).body!.id as string);
    }
    const group = await first.scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'billing-readers',
      members: ids.map((value) => ({ value })),
    });
    const groupId = group.body!.id as string;
    first.lifecycle.calls.length = 0;
    second.lifecycle.calls.length = 0;

    const answers = await Promise.all([
      first.scim(
        'PATCH',
        `/Groups/${groupId}`,
        patchOf({ op: 'remove', path: `members[value eq "${ids[0]}"]` }),
      ),
      second.scim(
        'PATCH',
        `/Groups/${groupId}`,
        patchOf({ op: 'remove', path: `members[value eq "${ids[1]}"]` }),
      ),
    ]);
    for (const answer of answers) assert.ok([200, 204].includes(answer.status), JSON.stringify(answer.body));
    const revoked = [...first.lifecycle.calls, ...second.lifecycle.calls]
      .map((call) => call.target.subject)
      .sort();
    assert.deepEqual([...new Set(revoked)], ['user-dan', 'user-eva']);
    const read = await second.scim('GET', `/Groups/${groupId}`);
    assert.deepEqual(read.body!.members ?? [], []);
  });
});
