import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSigningKeys, rotateSigningKeys } from '../src/signing-keys.ts';

/** Everything an operator would see of an error: messages, stacks and causes. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message, e.stack ?? '');
  return parts.join('\n');
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-signing-keys-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('broker signing-key file', () => {
  it('is created owner-only, and instances starting together agree on one key', async () => {
    const file = join(dir, 'created', 'keys.json');
    const loaded = await Promise.all(Array.from({ length: 6 }, () => loadSigningKeys(file)));
    const kids = new Set(loaded.map((keys) => keys[0]!.kid));
    assert.equal(kids.size, 1, 'every instance signs with the same key');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(
      (await readdir(join(dir, 'created'))).filter((name) => name !== 'keys.json'),
      [],
      'no temporary file left',
    );
  });

  it('a signing-key file readable by others is refused', async () => {
    const file = join(dir, 'loose.json');
    await loadSigningKeys(file);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(file, mode);
      await assert.rejects(loadSigningKeys(file), (error: unknown) => {
        assert.match(errorText(error), /must not be readable or writable by group or others/);
        assert.match(errorText(error), /chmod 600/);
        return true;
      });
      await assert.rejects(rotateSigningKeys(file), /chmod 600/, 'rotation refuses it too');
    }
  });

  it("a corrupt key file's error does not quote its contents", async () => {
    const secret = '"d":"PRIVATE-KEY-MATERIAL-0123456789"';
    const cases = {
      truncated: `{"keys":[{${secret},"kid":"k1"`,
      'not JSON at the secret': `{"keys":[{${secret} oops}]}`,
      'no kid': `{"keys":[{${secret}}]}`,
      'public keys only': '{"keys":[{"kty":"EC","kid":"PUBLIC-KID-MATERIAL"}]}',
      'not an object': `[${JSON.stringify(secret)}]`,
    };
    for (const [label, text] of Object.entries(cases)) {
      const file = join(dir, `corrupt-${label.replaceAll(' ', '-')}.json`);
      await writeFile(file, text, { mode: 0o600 });
      await assert.rejects(loadSigningKeys(file), (error: unknown) => {
        const shown = errorText(error);
        assert.match(shown, /must hold \{ "keys": \[private JWKs with kid\] \}/, label);
        assert.equal(shown.includes('PRIVATE-KEY-MATERIAL'), false, `${label}: quoted the private key`);
        assert.equal(shown.includes('PUBLIC-KID-MATERIAL'), false, `${label}: quoted the file`);
        return true;
      });
      assert.equal(await readFile(file, 'utf8'), text, `${label}: a corrupt file is not overwritten`);
    }
  });

  it('two rotations at once keep both new keys', async () => {
    const file = join(dir, 'rotating.json');
    const [original] = await loadSigningKeys(file);
    const [a, b] = await Promise.all([rotateSigningKeys(file, 5), rotateSigningKeys(file, 5)]);
    const kids = (await loadSigningKeys(file)).map((key) => key.kid);
    assert.equal(kids.length, 3);
    assert.ok(kids.includes(a![0]!.kid) && kids.includes(b![0]!.kid), 'neither rotation lost the other');
    assert.equal(kids.at(-1), original!.kid);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });
});
