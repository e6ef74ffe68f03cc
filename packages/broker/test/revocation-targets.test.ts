import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '@baton/audit';
import { decodeJwt, importJWK, type JWK, SignJWT } from 'jose';
import { ACCESS_TOKEN_TYPE, type BrokerRevocationChange, type TokenRegistry } from '../src/index.ts';
import { MemoryTokenRegistry } from '../src/registry/memory-registry.ts';
import { PostgresRedisTokenRegistry } from '../src/stores/postgres-redis-registry.ts';
import { exchange, introspect, revoke, tokenRequest } from './fixtures/service-client.ts';
import {
  BILLING_API,
  BILLING_MCP,
  type BrokerStack,
  ORDERS_MCP,
  startBrokerStack,
} from './fixtures/stack.ts';
import {
  deleteKeys,
  dropTables,
  openPool,
  openRedis,
  POSTGRES_URL,
  REDIS_URL,
  uniquePrefix,
} from './stores/servers.ts';

const OPERATOR = { actor: 'operator-console', reason: 'test' };

/**
 * Every revocation target at a running broker, against a real identity provider's keys: what each
 * refuses (exchange, introspection, service identity), what it leaves alone (another person, another
 * session, the ancestors of a revoked client's tokens), what it counts, audits and hands to receivers.
 * The same suite runs on the memory registry and on PostgreSQL + Redis.
 */
function revocationTargets(
  name: string,
  makeRegistry: () => Promise<TokenRegistry>,
  cleanup = async () => {},
) {
  describe(`revocation targets at the broker (${name})`, () => {
    let stack: BrokerStack;
    let idpKey: CryptoKey | Uint8Array;
    const changes: BrokerRevocationChange[] = [];

    before(async () => {
      stack = await startBrokerStack({ registry: await makeRegistry() });
      idpKey = await importJWK(stack.idpSigningJwk as JWK, 'ES256');
      stack.broker.onRevocation((change) => {
        changes.push(change);
      });
    });
    after(async () => {
      await stack.close();
      await cleanup();
    });

    const now = () => Math.floor(Date.now() / 1000);

    /** A token as the identity provider issues them (its key, its issuer), with the claims a test needs. */
    function idpToken(claims: Record<string, unknown> = {}): Promise<string> {
      const issuedAt = now();
      return new SignJWT({
        iss: stack.idp.issuer,
        aud: ORDERS_MCP,
        sub: `user-${randomUUID()}`,
        client_id: 'agent-under-test',
        scope: 'orders:read billing:read',
        iat: issuedAt,
        exp: issuedAt + 300,
        jti: randomUUID(),
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: stack.idpSigningJwk.kid as string })
        .sign(idpKey);
    }

    async function hop1(subjectToken: string, extra: Record<string, string> = {}) {
      return exchange(stack.broker.issuer, stack.orders, {
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
        ...extra,
      });
    }

    async function hop2(hop1Token: string) {
      return exchange(stack.broker.issuer, stack.billing, {
        subject_token: hop1Token,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_API,
      });
    }

    /** hop 1 (orders → billing MCP) and hop 2 (billing → billing API) from `subjectToken`. */
    async function chain(subjectToken: string): Promise<[string, string]> {
      const first = await hop1(subjectToken);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const second = await hop2(first.body.access_token as string);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      return [first.body.access_token as string, second.body.access_token as string];
    }

    async function active(token: string): Promise<boolean> {
      const client = decodeJwt(token).client_id === 'orders-mcp' ? stack.orders : stack.billing;
      return (await introspect(stack.broker.issuer, client, token)).body.active === true;
    }

    function refusedWith(answer: { status: number; body: Record<string, unknown> }, reason: string) {
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_grant');
      assert.match(String(answer.body.error_description), /revoked/);
      assert.equal(stack.audit.events.at(-1)?.reason, reason);
    }

    function lastRevocationEvent(): AuditEvent {
      const event = stack.audit.events.findLast((candidate) => candidate.action.startsWith('revocation'));
      assert.ok(event, 'a revocation was audited');
      return event;
    }

    it('a subject revoked before an instant: its earlier tokens are refused, its later sign-in and other people are not', async () => {
      const person = `user-${randomUUID()}`;
      const earlier = await idpToken({ sub: person, iat: now() - 120 });
      const [first, second] = await chain(earlier);
      const other = await chain(await idpToken({ iat: now() - 120 }));
      const cutOff = (decodeJwt(second).iat as number) + 1;

      const result = await stack.broker.revoke({ subject: person, before: cutOff }, OPERATOR);
      assert.equal(result.covered, 2);
      // Receivers keep it a day after the cut-off: the identity provider's tokens may outlive the broker's.
      const [entry] = result.revocations;
      assert.deepEqual(result.revocations, [
        { kind: 'subject', value: person, before: cutOff, until: cutOff + 86_400, at: entry?.at },
      ]);
      assert.ok(Math.abs((entry?.at ?? 0) - now()) <= 2);
      assert.deepEqual(changes.at(-1)?.added, result.revocations);

      assert.equal(await active(first), false);
      assert.equal(await active(second), false);
      assert.deepEqual(await Promise.all(other.map(active)), [true, true], 'another person is untouched');
      refusedWith(await hop1(earlier), 'subject_revoked');
      const later = await hop1(await idpToken({ sub: person, iat: cutOff }));
      assert.equal(later.status, 200, 'a sign-in at or after the cut-off is not covered');

      const event = lastRevocationEvent();
      assert.equal(event.action, 'revocation');
      assert.equal(event.outcome, 'ok');
      assert.deepEqual(event.target, { type: 'revocation', name: `subject:${person}` });
      assert.equal(event.initiator.sub, OPERATOR.actor);
      assert.deepEqual(event.revocation, { kind: 'subject', before: cutOff, note: 'test', covered: 2 });
    });

    it('a disabled subject: every token and every new exchange refused until lifted', async () => {
      const person = `user-${randomUUID()}`;
      const [first] = await chain(await idpToken({ sub: person }));
      const result = await stack.broker.revoke({ subject: person }, OPERATOR);
      assert.equal(result.covered, 2);
      assert.deepEqual(result.revocations, [
        { kind: 'subject', value: person, at: result.revocations[0]?.at },
      ]);
      assert.equal(await active(first), false);
      refusedWith(await hop1(await idpToken({ sub: person, iat: now() + 10 })), 'subject_revoked');

      assert.equal(await stack.broker.lift({ subject: person }, OPERATOR), true);
      const lifted = changes.at(-1)?.lifted;
      assert.deepEqual(lifted, [{ kind: 'subject', value: person, at: lifted?.[0]?.at }]);
      assert.equal(lastRevocationEvent().action, 'revocation.lift');
      assert.equal(
        (await hop1(await idpToken({ sub: person, iat: now() + 2 }))).status,
        200,
        'lifting re-enables',
      );
      // A token from before the lift is not revived: it may have been stolen while the person was disabled.
      assert.equal(await active(first), false);
      refusedWith(await hop1(await idpToken({ sub: person, iat: now() - 60 })), 'subject_revoked');
    });

    it("an identity-provider session: the session's tokens are refused, the person's other sessions are not", async () => {
      const person = `user-${randomUUID()}`;
      const session = `sid-${randomUUID()}`;
      const inSession = await idpToken({ sub: person, sid: session });
      const [first, second] = await chain(inSession);
      const [elsewhere] = await chain(await idpToken({ sub: person, sid: `sid-${randomUUID()}` }));

      const result = await stack.broker.revoke({ session }, OPERATOR);
      assert.equal(result.covered, 2);
      assert.equal(result.revocations.length, 1);
      assert.equal(result.revocations[0]?.kind, 'session');
      assert.deepEqual(
        [await active(first), await active(second), await active(elsewhere)],
        [false, false, true],
      );
      refusedWith(await hop1(inSession), 'session_revoked');
      assert.equal(lastRevocationEvent().target.name, `session:${session}`);
    });

    it("a root grant: the identity provider's token itself stops minting, not only the broker's tokens", async () => {
      const person = `user-${randomUUID()}`;
      const rootJti = randomUUID();
      const granted = await idpToken({ sub: person, jti: rootJti });
      const [first, second] = await chain(granted);
      const root = `${stack.idp.issuer}#${rootJti}`;
      assert.equal((await stack.broker.registry.find(decodeJwt(first).jti as string))?.root, root);

      const result = await stack.broker.revoke({ root }, OPERATOR);
      assert.equal(result.covered, 2);
      assert.deepEqual(
        result.revocations.map((entry) => entry.value).sort(),
        [rootJti, decodeJwt(first).jti, decodeJwt(second).jti].sort(),
      );
      assert.ok(result.revocations.every((entry) => entry.kind === 'jti' && entry.until !== undefined));
      assert.equal(await active(first), false);
      assert.equal(await active(second), false);
      refusedWith(await hop1(granted), 'token_revoked');
      assert.equal((await hop1(await idpToken({ sub: person }))).status, 200, 'another grant of the person');
    });

    it('a jti: that token and everything exchanged from it, each listed with its expiry', async () => {
      const [first, second] = await chain(await idpToken());
      const result = await stack.broker.revoke({ jti: decodeJwt(first).jti as string }, OPERATOR);
      assert.equal(result.covered, 2);
      assert.deepEqual(
        result.revocations.map((entry) => [entry.value, entry.until]).sort(),
        [first, second].map((token) => [decodeJwt(token).jti, decodeJwt(token).exp]).sort(),
      );
      refusedWith(await hop2(first), 'token_revoked');
    });

    it('a client: its tokens and the chains it acts in are refused, as are its requests, until lifted', async () => {
      const [first, second] = await chain(await idpToken());
      const fresh = await hop1(await idpToken());
      try {
        const result = await stack.broker.revoke({ client: 'billing-mcp' }, OPERATOR);
        // Every unexpired token issued to billing-mcp in this suite so far: at least this test's hop 2.
        assert.ok(result.covered >= 1);
        assert.deepEqual(result.revocations, [
          { kind: 'client', value: 'billing-mcp', at: result.revocations[0]?.at },
        ]);
        assert.equal(await active(second), false);
        assert.equal(await active(first), true, "an ancestor of the client's token is untouched");
        refusedWith(await hop2(fresh.body.access_token as string), 'client_revoked');
        assert.equal((await hop1(await idpToken())).status, 200, 'other clients still exchange');
      } finally {
        await stack.broker.lift({ client: 'billing-mcp' }, OPERATOR);
      }
      assert.equal(await active(second), true);
      assert.equal((await hop2(fresh.body.access_token as string)).status, 200, 'lifting re-enables');
    });

    it("a client named in the identity provider's token (client_id, or an actor in act) stops its exchanges", async () => {
      const agent = `agent-${randomUUID()}`;
      const actor = `actor-${randomUUID()}`;
      await stack.broker.revoke({ client: agent }, OPERATOR);
      await stack.broker.revoke({ client: actor }, OPERATOR);
      refusedWith(await hop1(await idpToken({ client_id: agent })), 'client_revoked');
      refusedWith(await hop1(await idpToken({ act: { sub: actor } })), 'client_revoked');
      assert.equal((await hop1(await idpToken({ client_id: `agent-${randomUUID()}` }))).status, 200);
    });

    it('a revoked agent stops every chain it started: their tokens name it in act', async () => {
      const agent = `agent-${randomUUID()}`;
      const [first, second] = await chain(await idpToken({ client_id: agent }));
      const [unrelated] = await chain(await idpToken());
      await stack.broker.revoke({ client: agent }, OPERATOR);
      assert.deepEqual(
        [await active(first), await active(second), await active(unrelated)],
        [false, false, true],
      );
      refusedWith(await hop2(first), 'client_revoked');
      await stack.broker.lift({ client: agent }, OPERATOR);
      assert.equal(await active(second), true);
    });

    it('a revoked client gets no service-identity token (client_credentials) until lifted', async () => {
      const ask = () =>
        tokenRequest(stack.broker.issuer, stack.reporting, {
          grant_type: 'client_credentials',
          resource: BILLING_API,
          scope: 'billing:read',
        });
      const issued = await ask();
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      await stack.broker.revoke({ client: 'reporting-service' }, OPERATOR);
      try {
        refusedWith(await ask(), 'client_revoked');
        const introspected = await introspect(
          stack.broker.issuer,
          stack.reporting,
          issued.body.access_token as string,
        );
        assert.deepEqual(introspected.body, { active: false });
      } finally {
        await stack.broker.lift({ client: 'reporting-service' }, OPERATOR);
      }
      assert.equal((await ask()).status, 200);
    });

    it('a revoked actor token is refused: the broker checks its own actor tokens in the registry', async () => {
      const [first] = await chain(await idpToken());
      const withActor = { actor_token: first, actor_token_type: ACCESS_TOKEN_TYPE };
      assert.equal((await hop1(await idpToken(), withActor)).status, 200, JSON.stringify(withActor));
      await stack.broker.revoke({ jti: decodeJwt(first).jti as string }, OPERATOR);
      refusedWith(await hop1(await idpToken(), withActor), 'token_revoked');
    });

    it("an identity provider's actor token of a revoked grant is refused", async () => {
      const actorJti = randomUUID();
      const actorToken = await idpToken({ sub: 'orders-mcp', client_id: 'orders-mcp', jti: actorJti });
      const withActor = { actor_token: actorToken, actor_token_type: ACCESS_TOKEN_TYPE };
      assert.equal((await hop1(await idpToken(), withActor)).status, 200);
      await stack.broker.revoke({ root: `${stack.idp.issuer}#${actorJti}` }, OPERATOR);
      refusedWith(await hop1(await idpToken(), withActor), 'token_revoked');
    });

    it('RFC 7009 revocation takes the same path: audited with the client as actor, handed to receivers', async () => {
      const [first, second] = await chain(await idpToken());
      assert.equal((await revoke(stack.broker.issuer, stack.orders, first)).status, 200);
      const event = lastRevocationEvent();
      assert.equal(event.initiator.sub, 'orders-mcp');
      assert.equal(event.target.name, `jti:${decodeJwt(first).jti}`);
      assert.equal(event.revocation?.covered, 2);
      assert.deepEqual(
        changes
          .at(-1)
          ?.added.map((entry) => entry.value)
          .sort(),
        [decodeJwt(first).jti, decodeJwt(second).jti].sort(),
      );
      assert.ok(!JSON.stringify(stack.audit.events).includes(first), 'no raw token in the audit');
    });

    it('refuses a malformed target or a missing actor with a TypeError, and writes nothing', async () => {
      const events = stack.audit.events.length;
      await assert.rejects(stack.broker.revoke({ jti: 'a', subject: 'b' } as never, OPERATOR), TypeError);
      await assert.rejects(stack.broker.revoke({ session: 'a', before: 1 } as never, OPERATOR), TypeError);
      await assert.rejects(stack.broker.revoke({ subject: 'a' }, { actor: '' }), TypeError);
      await assert.rejects(stack.broker.lift({ root: 'a' } as never, OPERATOR), TypeError);
      assert.equal(stack.audit.events.length, events);
    });
  });
}

revocationTargets('memory registry', async () => new MemoryTokenRegistry());

const prefix = uniquePrefix();
revocationTargets(
  'PostgreSQL + Redis registry',
  () =>
    PostgresRedisTokenRegistry.create({
      pool: POSTGRES_URL,
      redis: REDIS_URL,
      tablePrefix: prefix,
      keyPrefix: `baton-test:${prefix}`,
    }),
  async () => {
    const pool = openPool();
    const redis = await openRedis();
    await dropTables(pool, prefix);
    await deleteKeys(redis, `baton-test:${prefix}`);
    await redis.close();
    await pool.end();
  },
);
