import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EnvelopeError,
  EnvelopeIssuer,
  EnvelopeKeyRing,
  keyRingResolver,
  SharedEnvelopeKeys,
  verifyEnvelope,
} from '../src/index.ts';
import { aliceBody, ISSUER, TRUST_DOMAIN, testClock } from './fixtures.ts';

/** A private JWK as an operator would export it from a secret manager. */
function privateJwk(algorithm: 'ES256' | 'EdDSA' = 'ES256'): Record<string, unknown> {
  const ring = EnvelopeKeyRing.generate({ algorithm, retentionSeconds: 60 });
  return { ...(ring.signingKey.privateKey.export({ format: 'jwk' }) as object), alg: algorithm };
}

function hasPrivateMember(jwks: { keys: object[] }): boolean {
  return jwks.keys.some((key) => ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((member) => member in key));
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<EnvelopeError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof EnvelopeError, `an EnvelopeError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

/** Every run of 12 characters of `secret` (e.g. a base64url `d`) that `text` contains. */
function quoted(text: string, secret: string): boolean {
  for (let start = 0; start + 12 <= secret.length; start += 1) {
    if (text.includes(secret.slice(start, start + 12))) return true;
  }
  return false;
}

describe('SharedEnvelopeKeys: a key file several instances share', () => {
  let directory: string;
  const opened: SharedEnvelopeKeys[] = [];
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'baton-envelope-keys-'));
  });
  after(async () => {
    for (const keys of opened) keys.close();
    await rm(directory, { recursive: true, force: true });
  });
  const open = async (path: string, options: Parameters<typeof SharedEnvelopeKeys.fromKeyFile>[1]) => {
    const keys = await SharedEnvelopeKeys.fromKeyFile(path, options);
    opened.push(keys);
    return keys;
  };

  it('instances starting together create one owner-only file and sign with the same key', async () => {
    const path = join(directory, 'race', 'envelope-keys.json');
    const instances = await Promise.all(
      Array.from({ length: 4 }, () => open(path, { retentionSeconds: 600 })),
    );
    const kids = new Set(instances.map((keys) => keys.signingKey.kid));
    assert.equal(kids.size, 1, 'every instance signs with the winner key');
    for (const keys of instances) assert.deepEqual(keys.jwks(), instances[0]!.jwks());
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(directory, 'race'))).mode & 0o777, 0o700);
    // An envelope one instance signed verifies with another instance's published keys.
    const issuer = new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys: instances[0]! });
    const envelope = await verifyEnvelope(issuer.mint(aliceBody()).token, {
      issuer: ISSUER,
      trustDomain: TRUST_DOMAIN,
      keys: keyRingResolver(instances[3]!),
    });
    assert.equal(envelope.actor.sub, 'user-alice');
  });

  it('publishes no private member in the JWKS, though the file holds the private keys', async () => {
    const path = join(directory, 'private', 'envelope-keys.json');
    const keys = await open(path, { retentionSeconds: 600, propagationSeconds: 5, reloadIntervalSeconds: 1 });
    await keys.stageNextKey();
    assert.equal(keys.jwks().keys.length, 2);
    assert.equal(hasPrivateMember(keys.jwks()), false);
    assert.match(await readFile(path, 'utf8'), /"d":/);
  });

  it('rotates across instances: stage publishes everywhere, rotate waits propagationSeconds, the old key retires after retention', async () => {
    const clock = testClock();
    const path = join(directory, 'rotation', 'envelope-keys.json');
    const options = {
      retentionSeconds: 600,
      reloadIntervalSeconds: 5,
      propagationSeconds: 65,
      now: clock.now,
    };
    const a = await open(path, options);
    const b = await open(path, options);
    const issuers = [a, b].map(
      (keys) => new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys, now: clock.now }),
    );
    const verifyAt = (keys: SharedEnvelopeKeys, token: string) =>
      verifyEnvelope(token, {
        issuer: ISSUER,
        trustDomain: TRUST_DOMAIN,
        keys: keyRingResolver(keys),
        now: clock.now,
      });
    const oldKid = a.signingKey.kid;
    const beforeRotation = issuers[1]!.mint(aliceBody()).token;

    const staged = await a.stageNextKey();
    assert.notEqual(staged, oldKid);
    assert.equal(a.signingKey.kid, oldKid, 'staging does not change the signing key');
    assert.equal(await b.stageNextKey(), staged, 'a second stage agrees on the staged key');
    await a.reload();
    for (const keys of [a, b]) {
      assert.deepEqual(
        keys
          .jwks()
          .keys.map((key) => key.kid)
          .sort(),
        [oldKid, staged].sort(),
      );
    }

    clock.advance(64);
    const early = await rejectsWithCode(b.rotate(), 'ERR_ENVELOPE_ROTATION_REFUSED');
    assert.match(early.message, /propagationSeconds/);
    assert.equal(a.signingKey.kid, oldKid, 'a refused rotation changes nothing');
    clock.advance(1);
    assert.equal(await b.rotate(), staged);
    assert.equal(b.signingKey.kid, staged, 'the rotating instance signs with the new key at once');
    assert.equal(a.signingKey.kid, oldKid, 'the other instance until it re-reads the file');
    // An envelope the lagging instance signs with the old key verifies at the rotated one, and back.
    const lagging = issuers[0]!.mint(aliceBody()).token;
    const rotated = issuers[1]!.mint(aliceBody()).token;
    await verifyAt(b, lagging);
    await verifyAt(a, rotated);
    await a.reload();
    assert.equal(a.signingKey.kid, staged);
    await rejectsWithCode(a.rotate(), 'ERR_ENVELOPE_ROTATION_REFUSED'); // nothing staged

    // The old key stays published for reloadIntervalSeconds + retentionSeconds after the rotation:
    // what the lagging instance signed with it verifies until it expires.
    clock.advance(299);
    await verifyAt(b, lagging);
    clock.advance(5 + 600 - 1 - 299);
    assert.ok(a.publicKey(oldKid) && b.publicKey(oldKid));
    assert.ok(a.jwks().keys.some((key) => key.kid === oldKid));
    clock.advance(1);
    assert.deepEqual(
      a.jwks().keys.map((key) => key.kid),
      [staged],
    );
    assert.deepEqual(
      b.jwks().keys.map((key) => key.kid),
      [staged],
    );
    await assert.rejects(verifyAt(a, beforeRotation), { code: 'ERR_ENVELOPE_KEY_UNKNOWN' });
    // The next write drops the retired key from the file.
    await a.stageNextKey();
    assert.equal((await readFile(path, 'utf8')).includes(oldKid), false);
  });

  it("picks up another instance's stage and rotation on its reload interval", async () => {
    const path = join(directory, 'interval', 'envelope-keys.json');
    const options = { retentionSeconds: 600, reloadIntervalSeconds: 0.05, propagationSeconds: 1 };
    const a = await open(path, options);
    const b = await open(path, options);
    const staged = await a.stageNextKey();
    await waitFor(() => b.jwks().keys.some((key) => key.kid === staged));
    await sleep(1000);
    await a.rotate();
    await waitFor(() => b.signingKey.kid === staged);
  });

  it('refuses a key file group or others can read, and signs with nothing from it', async () => {
    const path = join(directory, 'readable', 'envelope-keys.json');
    (await open(path, { retentionSeconds: 600 })).close();
    await chmod(path, 0o644);
    const error = await rejectsWithCode(
      SharedEnvelopeKeys.fromKeyFile(path, { retentionSeconds: 600 }),
      'ERR_ENVELOPE_KEYS_UNAVAILABLE',
    );
    assert.match(error.message, /chmod 600/);
  });

  it('refuses a key file planted as a symbolic link', async () => {
    const target = join(directory, 'link-target.json');
    (await open(target, { retentionSeconds: 600 })).close();
    const path = join(directory, 'linked-keys.json');
    await symlink(target, path);
    const error = await rejectsWithCode(
      SharedEnvelopeKeys.fromKeyFile(path, { retentionSeconds: 600 }),
      'ERR_ENVELOPE_KEYS_UNAVAILABLE',
    );
    assert.match(error.message, /symbolic link/);
  });

  for (const [attack, corrupt] of [
    ['a truncated key file', (text: string) => text.slice(0, text.indexOf('"d"') + 30)],
    ['a key file whose key is altered', (text: string) => text.replace(/"d": "[^"]{4}/, '"d": "AAAA')],
    [
      'a key file of the wrong shape',
      (text: string) => text.replace('"baton_envelope_keys": 1', '"baton_envelope_keys": 2'),
    ],
    [
      'a key file whose key claims another algorithm',
      (text: string) => text.replace('"alg": "ES256"', '"alg": "EdDSA"'),
    ],
  ] as const) {
    it(`refuses ${attack} without quoting it`, async () => {
      const path = join(directory, `corrupt-${attack.replaceAll(' ', '-')}`, 'envelope-keys.json');
      (await open(path, { retentionSeconds: 600 })).close();
      const original = await readFile(path, 'utf8');
      const secret = (JSON.parse(original) as { active: { d: string } }).active.d;
      await writeFile(path, corrupt(original), { mode: 0o600 });
      const error = await rejectsWithCode(
        SharedEnvelopeKeys.fromKeyFile(path, { retentionSeconds: 600 }),
        'ERR_ENVELOPE_KEYS_UNAVAILABLE',
      );
      const told = `${error.message} ${error.stack} ${String((error as { cause?: unknown }).cause ?? '')}`;
      assert.equal(quoted(told, secret), false, 'the private key is not quoted');
      assert.ok(told.includes(path), 'the message names the file');
    });
  }

  it('keeps the last good keys when a periodic reload finds the file corrupt, and says so', async () => {
    const path = join(directory, 'reload-error', 'envelope-keys.json');
    const errors: EnvelopeError[] = [];
    const keys = await open(path, {
      retentionSeconds: 600,
      reloadIntervalSeconds: 0.05,
      onReloadError: (error) => errors.push(error),
      // A transient failure: the fail-closed threshold (below) is not what this test is about.
      maxFailedReloads: 1000,
    });
    const kid = keys.signingKey.kid;
    const secret = (JSON.parse(await readFile(path, 'utf8')) as { active: { d: string } }).active.d;
    await writeFile(path, `{"active": {"d": "${secret}"`, { mode: 0o600 });
    await waitFor(() => errors.length > 0);
    assert.equal(errors[0]!.code, 'ERR_ENVELOPE_KEYS_UNAVAILABLE');
    assert.equal(quoted(errors[0]!.message, secret), false);
    assert.equal(keys.signingKey.kid, kid);
    assert.equal(keys.jwks().keys.length, 1);
  });

  it('an instance whose re-reads keep failing stops signing (fails closed) instead of signing with a key the fleet may have dropped', async () => {
    const path = join(directory, 'failing', 'envelope-keys.json');
    // Re-read by hand: no timer races the count.
    const keys = await open(path, { retentionSeconds: 600, reloadIntervalSeconds: 3600 });
    const issuer = new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys });
    const good = await readFile(path, 'utf8');
    assert.equal(keys.healthy, true);
    assert.equal(issuer.healthy, true);
    await writeFile(path, '{"active": ', { mode: 0o600 });
    for (let failed = 1; failed <= 3; failed += 1) {
      assert.equal(keys.healthy, true, `still signing after ${failed - 1} failed re-reads`);
      assert.ok(issuer.mint(aliceBody()).token);
      await rejectsWithCode(keys.reload(), 'ERR_ENVELOPE_KEYS_UNAVAILABLE');
    }
    assert.equal(keys.healthy, false);
    assert.equal(issuer.healthy, false);
    assert.equal(keys.lastReloadError?.code, 'ERR_ENVELOPE_KEYS_UNAVAILABLE');
    assert.throws(
      () => keys.signingKey,
      (error: unknown) =>
        error instanceof EnvelopeError &&
        error.code === 'ERR_ENVELOPE_KEYS_UNAVAILABLE' &&
        /could not be re-read 3 times in a row/.test(error.message),
    );
    assert.throws(
      () => issuer.mint(aliceBody()),
      { code: 'ERR_ENVELOPE_KEYS_UNAVAILABLE' },
      'minting fails closed',
    );
    assert.equal(keys.jwks().keys.length, 1, 'the last good keys stay published for verifiers');
    // One good re-read restores it.
    await writeFile(path, good, { mode: 0o600 });
    await keys.reload();
    assert.equal(keys.healthy, true);
    assert.equal(keys.lastReloadError, undefined);
    assert.ok(issuer.mint(aliceBody()).token);
  });

  it('a fleet member (create: false) refuses a missing shared file instead of starting a key ring of its own', async () => {
    const path = join(directory, 'unmounted', 'envelope-keys.json');
    const error = await rejectsWithCode(
      SharedEnvelopeKeys.fromKeyFile(path, { retentionSeconds: 600, create: false }),
      'ERR_ENVELOPE_KEYS_UNAVAILABLE',
    );
    assert.match(error.message, /does not exist, and create is false/);
    await assert.rejects(stat(path), { code: 'ENOENT' }, 'no file created');
  });

  it('rotate() waits propagationSeconds from when this instance first saw the staged key, not an earlier staged_at stamp', async () => {
    const clock = testClock();
    const path = join(directory, 'first-seen', 'envelope-keys.json');
    const options = {
      retentionSeconds: 600,
      reloadIntervalSeconds: 5,
      propagationSeconds: 65,
      now: clock.now,
    };
    const a = await open(path, options);
    const staged = await a.stageNextKey();
    a.close();
    // An instance (re)started long after the stamp (or a file whose staged_at was set in the past, or
    // by a fast clock): it has not published the key for propagationSeconds, so it may not rotate yet.
    clock.advance(1000);
    const b = await open(path, options);
    const early = await rejectsWithCode(b.rotate(), 'ERR_ENVELOPE_ROTATION_REFUSED');
    assert.match(early.message, /published for 0 s/);
    clock.advance(64);
    await rejectsWithCode(b.rotate(), 'ERR_ENVELOPE_ROTATION_REFUSED');
    clock.advance(1);
    assert.equal(await b.rotate(), staged);
  });

  it('refuses an issuer whose envelopes would outlive the retention', async () => {
    const keys = await open(join(directory, 'short', 'envelope-keys.json'), { retentionSeconds: 60 });
    assert.throws(
      () => new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys, ttlSeconds: 300 }),
      TypeError,
    );
  });
});

describe('SharedEnvelopeKeys: an operator-provided JWKS', () => {
  let directory: string;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'baton-envelope-jwks-'));
  });
  after(() => rm(directory, { recursive: true, force: true }));

  it('signs with the first key and publishes the others, public members only', async () => {
    const first = privateJwk();
    const second = privateJwk('EdDSA');
    const keys = SharedEnvelopeKeys.fromJwks(JSON.stringify({ keys: [first, second] }), {
      retentionSeconds: 600,
    });
    const other = SharedEnvelopeKeys.fromJwks({ keys: [first, second] }, { retentionSeconds: 600 });
    assert.equal(keys.signingKey.kid, other.signingKey.kid, 'every instance derives the same kid');
    assert.equal(keys.jwks().keys.length, 2);
    assert.equal(keys.jwks().keys[0]!.kid, keys.signingKey.kid);
    assert.equal(keys.jwks().keys[1]!.alg, 'EdDSA');
    assert.equal(hasPrivateMember(keys.jwks()), false);
    const issuer = new EnvelopeIssuer({ issuer: ISSUER, trustDomain: TRUST_DOMAIN, keys });
    await verifyEnvelope(issuer.mint(aliceBody()).token, {
      issuer: ISSUER,
      trustDomain: TRUST_DOMAIN,
      keys: keyRingResolver(other),
    });
  });

  it('is read only: stage and rotate are refused', async () => {
    const keys = SharedEnvelopeKeys.fromJwks({ keys: [privateJwk()] }, { retentionSeconds: 600 });
    await rejectsWithCode(keys.stageNextKey(), 'ERR_ENVELOPE_ROTATION_REFUSED');
    await rejectsWithCode(keys.rotate(), 'ERR_ENVELOPE_ROTATION_REFUSED');
  });

  for (const [attack, document] of [
    [
      'a JWKS whose signing key is public only',
      (jwk: Record<string, unknown>) => ({ keys: [{ ...jwk, d: undefined }] }),
    ],
    [
      'a JWKS whose signing key names no alg',
      (jwk: Record<string, unknown>) => ({ keys: [{ ...jwk, alg: undefined }] }),
    ],
    [
      'a JWKS with an HMAC secret',
      (jwk: Record<string, unknown>) => ({ keys: [{ kty: 'oct', k: jwk.d, alg: 'HS256' }] }),
    ],
    ['a JWKS that is not JSON', (jwk: Record<string, unknown>) => `{"keys":[{"d":"${String(jwk.d)}"`],
  ] as const) {
    it(`refuses ${attack} without quoting it`, () => {
      const jwk = privateJwk();
      const input = document(jwk);
      assert.throws(
        () =>
          SharedEnvelopeKeys.fromJwks(typeof input === 'string' ? input : JSON.parse(JSON.stringify(input)), {
            retentionSeconds: 600,
            description: 'BATON_ENVELOPE_JWKS',
          }),
        (error: unknown) => {
          assert.ok(error instanceof EnvelopeError);
          assert.equal(error.code, 'ERR_ENVELOPE_KEYS_UNAVAILABLE');
          assert.match(error.message, /BATON_ENVELOPE_JWKS/);
          assert.equal(quoted(`${error.message} ${String(error.cause ?? '')}`, String(jwk.d)), false);
          return true;
        },
      );
    });
  }

  it('re-reads a mounted JWKS file: the operator appends a key, then moves it first', async () => {
    const old = privateJwk();
    const next = privateJwk();
    const target = join(directory, 'secret-volume-data');
    const path = join(directory, 'envelope-jwks.json');
    await writeFile(target, JSON.stringify({ keys: [old] }), { mode: 0o600 });
    await symlink(target, path); // a Kubernetes secret volume is links
    const keys = await SharedEnvelopeKeys.fromJwksFile(path, {
      retentionSeconds: 600,
      reloadIntervalSeconds: 0.05,
    });
    try {
      const oldKid = keys.signingKey.kid;
      await writeFile(target, JSON.stringify({ keys: [old, next] }), { mode: 0o600 });
      await waitFor(() => keys.jwks().keys.length === 2);
      assert.equal(keys.signingKey.kid, oldKid, 'an appended key is published, not signing');
      await writeFile(target, JSON.stringify({ keys: [next, old] }), { mode: 0o600 });
      await waitFor(() => keys.signingKey.kid !== oldKid);
      assert.ok(keys.publicKey(oldKid), 'the previous key still verifies');
    } finally {
      keys.close();
    }
  });

  it('refuses a JWKS file group or others can read', async () => {
    const path = join(directory, 'readable-jwks.json');
    await writeFile(path, JSON.stringify({ keys: [privateJwk()] }), { mode: 0o644 });
    await chmod(path, 0o644);
    await rejectsWithCode(
      SharedEnvelopeKeys.fromJwksFile(path, { retentionSeconds: 600 }),
      'ERR_ENVELOPE_KEYS_UNAVAILABLE',
    );
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
