import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ERROR_SCHEMA,
  GROUP_SCHEMA,
  patchOf,
  SCIM_TYPE,
  type ScimBroker,
  startScimBroker,
  userOf,
} from './fixtures/scim.ts';

/**
 * SCIM 2.0 (RFC 7643/7644) at the broker, over real HTTP with `application/scim+json`: what a
 * provisioning client does to a user or a group reaches the broker's revocation model.
 */
describe('SCIM provisioning at the broker', () => {
  let scim: ScimBroker;
  before(async () => {
    scim = await startScimBroker();
  });
  after(() => scim.broker.close());
  beforeEach(() => {
    scim.lifecycle.calls.length = 0;
  });

  async function createUser(userName: string, sub: string) {
    const created = await scim.scim('POST', '/Users', userOf(userName, sub));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body!.id as string;
  }

  it('creates a user (201, Location, application/scim+json) and reads it back', async () => {
    const created = await scim.scim('POST', '/Users', userOf('carol', 'user-carol'));
    assert.equal(created.status, 201);
    assert.equal(created.type, SCIM_TYPE);
    const id = created.body!.id as string;
    assert.equal(created.headers.get('location'), `${scim.base}/Users/${id}`);
    assert.equal((created.body!.meta as { location: string }).location, `${scim.base}/Users/${id}`);
    const read = await scim.scim('GET', `/Users/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body!.userName, 'carol');
    assert.equal(read.body!.externalId, 'user-carol');
    assert.deepEqual(scim.lifecycle.calls, []);
  });

  it('PATCH active=false (replace with path) disables the subject; active=true lifts it', async () => {
    const id = await createUser('dave', 'user-dave');
    const off = await scim.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'replace', path: 'active', value: false }),
    );
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body!.active, false);
    assert.deepEqual(scim.lifecycle.calls, [
      {
        op: 'revoke',
        target: { subject: 'user-dave' },
        context: { actor: 'hr-provisioning', reason: 'scim_user_deactivated' },
      },
    ]);
    const on = await scim.scim('PATCH', `/Users/${id}`, patchOf({ op: 'replace', value: { active: true } }));
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.deepEqual(scim.lifecycle.calls.at(-1), {
      op: 'lift',
      target: { subject: 'user-dave' },
      context: { actor: 'hr-provisioning', reason: 'scim_user_reactivated' },
    });
    assert.equal(scim.lifecycle.calls.length, 2);
  });

  it('PATCH replace without a path (value {active: false}) disables too; doing it twice revokes once', async () => {
    const id = await createUser('erik', 'user-erik');
    await scim.scim('PATCH', `/Users/${id}`, patchOf({ op: 'replace', value: { active: false } }));
    await scim.scim('PATCH', `/Users/${id}`, patchOf({ op: 'replace', value: { active: false } }));
    assert.deepEqual(
      scim.lifecycle.calls.map((call) => [call.op, call.target]),
      [['revoke', { subject: 'user-erik' }]],
    );
  });

  it('a PUT that leaves active out does not re-enable a disabled person', async () => {
    const id = await createUser('fay', 'user-fay');
    await scim.scim('PATCH', `/Users/${id}`, patchOf({ op: 'replace', path: 'active', value: false }));
    const put = await scim.scim('PUT', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'fay',
      displayName: 'Fay',
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body!.active, false);
    assert.deepEqual(
      scim.lifecycle.calls.map((call) => call.op),
      ['revoke'],
    );
  });

  it('DELETE /Users/{id} disables the subject and the user is gone (404 afterwards)', async () => {
    const id = await createUser('gus', 'user-gus');
    const deleted = await scim.scim('DELETE', `/Users/${id}`);
    assert.equal(deleted.status, 204);
    assert.deepEqual(scim.lifecycle.calls, [
      {
        op: 'revoke',
        target: { subject: 'user-gus' },
        context: { actor: 'hr-provisioning', reason: 'scim_user_deleted' },
      },
    ]);
    const read = await scim.scim('GET', `/Users/${id}`);
    assert.equal(read.status, 404);
    assert.deepEqual(read.body!.schemas, [ERROR_SCHEMA]);
  });

  it('removing a member from a group revokes their tokens issued before now (PATCH remove, PUT, DELETE)', async () => {
    const hana = await createUser('hana', 'user-hana');
    const ivan = await createUser('ivan', 'user-ivan');
    const created = await scim.scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'orders-writers',
      members: [{ value: hana }, { value: ivan }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(scim.lifecycle.calls.length, 0, 'adding members revokes nothing');
    const group = created.body!.id as string;
    const start = Math.floor(Date.now() / 1000);

    const removed = await scim.scim(
      'PATCH',
      `/Groups/${group}`,
      patchOf({ op: 'remove', path: `members[value eq "${hana}"]` }),
    );
    assert.ok(removed.status === 200 || removed.status === 204, JSON.stringify(removed.body));
    assert.equal(scim.lifecycle.calls.length, 1);
    const [call] = scim.lifecycle.calls;
    assert.equal(call!.op, 'revoke');
    assert.equal(call!.target.subject, 'user-hana');
    assert.equal(call!.context.reason, 'scim_group_membership_removed');
    const before = (call!.target as { before: number }).before;
    assert.ok(before > start && before <= Math.floor(Date.now() / 1000) + 1, `before ${before}`);

    const put = await scim.scim('PUT', `/Groups/${group}`, {
      schemas: [GROUP_SCHEMA],
      displayName: 'orders-writers',
      members: [{ value: hana }],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(
      scim.lifecycle.calls.slice(1).map((c) => c.target.subject),
      ['user-ivan'],
      'the PUT dropped ivan (and re-added hana, which revokes nothing)',
    );

    const deleted = await scim.scim('DELETE', `/Groups/${group}`);
    assert.equal(deleted.status, 204);
    assert.deepEqual(
      scim.lifecycle.calls.slice(2).map((c) => [c.target.subject, 'before' in c.target]),
      [['user-hana', true]],
    );
  });

  it('filters with scimmy: userName eq "bob" finds bob only', async () => {
    await createUser('bob', 'user-bob');
    await createUser('bobby', 'user-bobby');
    const list = await scim.scim('GET', `/Users?filter=${encodeURIComponent('userName eq "bob"')}`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body!.schemas, ['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    assert.equal(list.body!.totalResults, 1);
    const [bob] = list.body!.Resources as Array<Record<string, unknown>>;
    assert.equal(bob!.externalId, 'user-bob');
  });

  it('refuses a malformed filter with 400 invalidFilter', async () => {
    const list = await scim.scim('GET', `/Users?filter=${encodeURIComponent('(userName eq "bob"')}`);
    assert.equal(list.status, 400);
    assert.equal(list.body!.scimType, 'invalidFilter');
  });

  it('refuses a second user with the same userName (409 uniqueness)', async () => {
    await createUser('judy', 'user-judy');
    const again = await scim.scim('POST', '/Users', userOf('JUDY', 'user-judy-2'));
    assert.equal(again.status, 409);
    assert.equal(again.body!.scimType, 'uniqueness');
  });

  it('refuses a user without externalId: the IdP sub is what revocations name (400 invalidValue)', async () => {
    const answer = await scim.scim('POST', '/Users', {
      schemas: [userOf('kim', 'x').schemas[0]],
      userName: 'kim',
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body!.scimType, 'invalidValue');
  });

  it('refuses re-pointing a user at another subject (400 mutability)', async () => {
    const id = await createUser('lena', 'user-lena');
    const answer = await scim.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'replace', path: 'externalId', value: 'user-alice' }),
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.body!.scimType, 'mutability');
    assert.deepEqual(scim.lifecycle.calls, []);
  });

  it('refuses a malformed PATCH with a SCIM 400 (invalidSyntax / invalidValue), changing nothing', async () => {
    const id = await createUser('mona', 'user-mona');
    const noSchema = await scim.scim('PATCH', `/Users/${id}`, {
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    assert.equal(noSchema.status, 400);
    assert.deepEqual(noSchema.body!.schemas, [ERROR_SCHEMA]);
    assert.equal(noSchema.body!.scimType, 'invalidSyntax');
    const badOp = await scim.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'explode', path: 'active', value: false }),
    );
    assert.equal(badOp.status, 400);
    assert.ok(['invalidValue', 'invalidSyntax'].includes(badOp.body!.scimType as string));
    const badPath = await scim.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'replace', path: 'no.such', value: 1 }),
    );
    assert.equal(badPath.status, 400);
    assert.ok(['invalidPath', 'invalidValue', 'noTarget'].includes(badPath.body!.scimType as string));
    const notBoolean = await scim.scim(
      'PATCH',
      `/Users/${id}`,
      patchOf({ op: 'replace', path: 'active', value: 'nope' }),
    );
    assert.equal(notBoolean.status, 400);
    assert.ok(['invalidValue', 'invalidSyntax'].includes(notBoolean.body!.scimType as string));
    const notJson = await scim.scim('PATCH', `/Users/${id}`, '{"schemas":');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body!.scimType, 'invalidSyntax');
    assert.deepEqual(scim.lifecycle.calls, []);
    assert.equal((await scim.scim('GET', `/Users/${id}`)).body!.active, true);
  });

  it('refuses a group naming a member that is no user here (400 invalidValue)', async () => {
    const answer = await scim.scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'ghosts',
      members: [{ value: 'no-such-user' }],
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body!.scimType, 'invalidValue');
  });

  it('refuses a request without a bearer token: 401 with a Bearer challenge', async () => {
    const answer = await scim.scim('GET', '/Users', undefined, null);
    assert.equal(answer.status, 401);
    assert.equal(answer.type, SCIM_TYPE);
    assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer realm="scim"$/);
    assert.deepEqual(answer.body!.schemas, [ERROR_SCHEMA]);
  });

  it('refuses a forged or foreign token: 401 invalid_token', async () => {
    const real = await scim.token();
    const [header, payload] = real.split('.');
    const answer = await scim.scim('GET', '/Users', undefined, `${header}.${payload}.AAAA`);
    assert.equal(answer.status, 401);
    assert.match(answer.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('refuses a valid token of a client the operator has not approved for SCIM: 403', async () => {
    const answer = await scim.scim(
      'POST',
      '/Users',
      userOf('nick', 'user-nick'),
      await scim.token('other-provisioning'),
    );
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.body!.schemas, [ERROR_SCHEMA]);
    assert.deepEqual(scim.lifecycle.calls, []);
  });

  it('refuses a body that is not SCIM JSON (400 invalidSyntax)', async () => {
    const response = await fetch(`${scim.base}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await scim.token()}`, 'content-type': 'text/plain' },
      body: JSON.stringify(userOf('olga', 'user-olga')),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { scimType: string }).scimType, 'invalidSyntax');
  });

  it('refuses a body larger than 1 MiB (413) and an undecodable id (404)', async () => {
    const huge = await scim.scim(
      'POST',
      '/Users',
      userOf('quinn', 'user-quinn', { displayName: 'x'.repeat(1_100_000) }),
    );
    assert.equal(huge.status, 413);
    assert.deepEqual(huge.body!.schemas, [ERROR_SCHEMA]);
    const odd = await scim.scim('GET', '/Users/%E0%A4%A');
    assert.equal(odd.status, 404);
  });

  it('serves the discovery endpoints (ServiceProviderConfig, ResourceTypes)', async () => {
    const config = await scim.scim('GET', '/ServiceProviderConfig');
    assert.equal(config.status, 200, JSON.stringify(config.body));
    assert.equal((config.body!.patch as { supported: boolean }).supported, true);
    const types = await scim.scim('GET', '/ResourceTypes');
    assert.equal(types.status, 200);
    assert.equal(types.body!.totalResults, 2);
  });

  it('a failing revocation model fails the request (500, nothing stored as deactivated)', async () => {
    const id = await createUser('petra', 'user-petra');
    const original = scim.lifecycle.revoke;
    scim.lifecycle.revoke = async () => {
      throw new Error('revocation store down');
    };
    try {
      const answer = await scim.scim(
        'PATCH',
        `/Users/${id}`,
        patchOf({ op: 'replace', path: 'active', value: false }),
      );
      assert.equal(answer.status, 500);
      assert.doesNotMatch(JSON.stringify(answer.body), /revocation store down/);
    } finally {
      scim.lifecycle.revoke = original;
    }
    assert.equal((await scim.scim('GET', `/Users/${id}`)).body!.active, true);
  });
});
