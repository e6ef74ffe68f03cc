import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateSigningJwk } from '@baton/demo-idp';
import { EVENT_TYPES, mintSecurityEventToken, type SecurityEvent } from '@baton/shared-signals';
import { importJWK, type JWK } from 'jose';
import { ACCESS_TOKEN_TYPE, IDENTITY_PROVIDER_SIGNALS_PATH } from '../src/index.ts';
import { exchange } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

/**
 * The broker as a Shared Signals receiver of its identity provider (RFC 8935 push to
 * `/ssf/receiver`): the IdP's CAEP and RISC events become broker revocations, audited with actor
 * `ssf:<issuer>`. SETs are minted here with the IdP's own signing key, as the IdP signs them.
 */
describe('the identity provider’s Security Event Tokens at the broker', () => {
  let stack: BrokerStack;
  let idpKey: CryptoKey;
  let failNextRevoke = false;

  before(async () => {
    stack = await startBrokerStack((idp) => ({
      identityProviderSignals: { issuers: [{ issuer: idp.issuer }] },
    }));
    idpKey = (await importJWK(stack.idpSigningJwk as JWK, 'ES256')) as CryptoKey;
    // A store that fails once, on demand: the SET is answered 503 and taken when sent again.
    const registry = stack.broker.registry;
    const revoke = registry.revoke.bind(registry);
    registry.revoke = async (...args) => {
      if (failNextRevoke) {
        failNextRevoke = false;
        throw new Error('store down');
      }
      return revoke(...args);
    };
  });
  after(() => stack.close());

  const subjectOf = (sub: string) => ({ format: 'iss_sub' as const, iss: stack.idp.issuer, sub });

  async function mint(
    event: Omit<SecurityEvent, 'payload'> & { payload?: Record<string, unknown> },
    key = idpKey,
  ) {
    return mintSecurityEventToken({
      issuer: stack.idp.issuer,
      audience: stack.broker.issuer,
      events: [{ payload: {}, ...event }],
      key: { key, kid: String(stack.idpSigningJwk.kid), alg: 'ES256' },
    });
  }

  async function push(jwt: string) {
    const response = await fetch(`${stack.broker.issuer}${IDENTITY_PROVIDER_SIGNALS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
      body: jwt,
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as { err?: string }) : undefined };
  }

  const hop = (subjectToken: string) =>
    exchange(stack.broker.issuer, stack.orders, {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });

  it('account-disabled disables the person at once: their identity-provider token is refused at exchange, audited as the provider’s', async () => {
    const token = await stack.userToken('bob', 'orders:read');
    assert.equal((await hop(token)).status, 200);
    assert.equal(
      (await push(await mint({ type: EVENT_TYPES.accountDisabled, subject: subjectOf('user-bob') }))).status,
      202,
    );
    const refused = await hop(token);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    const event = stack.audit.events.find((candidate) => candidate.action === 'revocation');
    assert.equal(event?.initiator.sub, `ssf:${stack.idp.issuer}`);
    assert.equal(event?.target.name, 'subject:user-bob');
  });

  it('account-enabled is taken and logged, not applied: lifting is the operator’s, and then the old token stays refused', async () => {
    const old = await stack.userToken('bob', 'orders:read');
    assert.equal(
      (await push(await mint({ type: EVENT_TYPES.accountEnabled, subject: subjectOf('user-bob') }))).status,
      202,
    );
    assert.ok(stack.logs.some((line) => String(line.msg).includes('not applied')));
    assert.equal((await hop(old)).status, 400, 'still disabled');
    assert.equal(await stack.broker.lift({ subject: 'user-bob' }, { actor: 'ops' }), true);
    assert.equal((await hop(old)).status, 400, 'a token from before the lift is not revived');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal((await hop(await stack.userToken('bob', 'orders:read'))).status, 200);
  });

  it('a replayed SET is refused before anything is applied: a captured session-revoked cannot move a person’s cut-off again', async () => {
    const set = await mint({ type: EVENT_TYPES.sessionRevoked, subject: subjectOf('user-carol') });
    assert.equal((await push(set)).status, 202);
    const revocations = stack.audit.events.filter((event) => event.action === 'revocation').length;
    const replayed = await push(set);
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body?.err, 'invalid_request');
    assert.equal(stack.audit.events.filter((event) => event.action === 'revocation').length, revocations);
  });

  it('a SET whose revocation failed (503) is taken when the provider sends it again, not refused as a replay', async () => {
    const token = await stack.userToken('alice', 'orders:read');
    const sid = `sid-${randomUUID()}`;
    const set = await mint({
      type: EVENT_TYPES.sessionRevoked,
      subject: { format: 'complex', user: subjectOf('user-alice'), session: { format: 'opaque', id: sid } },
    });
    failNextRevoke = true;
    assert.equal((await push(set)).status, 503);
    assert.equal((await push(set)).status, 202);
    assert.ok(
      (await stack.broker.registry.listRevocations()).some(
        (entry) => entry.kind === 'session' && entry.value === sid,
      ),
    );
    assert.equal((await hop(token)).status, 200, 'another session of alice is untouched');
  });

  it('refuses a Baton client event from an identity provider: the broker’s clients are the operator’s to revoke and lift', async () => {
    const answer = await push(
      await mint({ type: EVENT_TYPES.clientRevoked, subject: { format: 'opaque', id: 'orders-mcp' } }),
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.body?.err, 'invalid_request');
    assert.ok(!(await stack.broker.registry.listRevocations()).some((entry) => entry.kind === 'client'));
  });

  it('refuses a SET signed by another key, for another audience, or from an untrusted issuer', async () => {
    const other = (await importJWK((await generateSigningJwk()) as JWK, 'ES256')) as CryptoKey;
    const event = { type: EVENT_TYPES.accountDisabled, subject: subjectOf('user-alice') };
    assert.equal((await push(await mint(event, other))).body?.err, 'invalid_key');
    const elsewhere = await mintSecurityEventToken({
      issuer: stack.idp.issuer,
      audience: 'https://another-broker.test',
      events: [{ payload: {}, ...event }],
      key: { key: idpKey, kid: String(stack.idpSigningJwk.kid), alg: 'ES256' },
    });
    assert.equal((await push(elsewhere)).body?.err, 'invalid_audience');
    const untrusted = await mintSecurityEventToken({
      issuer: 'https://untrusted-idp.test',
      audience: stack.broker.issuer,
      events: [{ payload: {}, ...event }],
      key: { key: idpKey, kid: String(stack.idpSigningJwk.kid), alg: 'ES256' },
    });
    assert.equal((await push(untrusted)).body?.err, 'invalid_issuer');
    assert.equal(
      (await hop(await stack.userToken('alice', 'orders:read'))).status,
      200,
      'alice is not disabled',
    );
  });
});
