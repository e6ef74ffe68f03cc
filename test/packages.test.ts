/**
 * What `npm pack` hands a user, checked per package: only the build output, README and LICENSE;
 * a manifest a registry accepts; publint and @arethetypeswrong/cli find nothing.
 * Needs `npm run build` first (`npm test` does it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { publint } from 'publint';
import { packWorkspaces, ROOT } from './helpers/pack.ts';

const destination = mkdtempSync(join(tmpdir(), 'baton-pack-'));
after(() => rmSync(destination, { recursive: true, force: true }));
const packed = packWorkspaces(destination);
const ATTW = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');

for (const pkg of packed) {
  const publishable = pkg.workspace.startsWith('packages/');
  describe(pkg.name, () => {
    test('the tarball carries only dist/, README, LICENSE and the manifest (no tests, no sources)', () => {
      const outside = pkg.files.filter((file) => !file.startsWith('dist/'));
      assert.deepEqual(outside.sort(), ['LICENSE', 'README.md', 'package.json']);
      assert.ok(pkg.files.some((file) => file.endsWith('.d.ts')));
      assert.ok(
        !pkg.files.some((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')),
        'a .ts source was packed',
      );
    });

    test('the manifest is Apache-2.0, Node >=22, and publishable unless it is an example', () => {
      assert.equal(pkg.manifest.license, 'Apache-2.0');
      assert.equal(pkg.manifest.engines?.node, '>=22');
      assert.equal(pkg.manifest.private === true, !publishable);
      assert.deepEqual(pkg.manifest.files, ['dist/**/*.js', 'dist/**/*.js.map', 'dist/**/*.d.ts']);
    });

    test('every export has types and default in dist/, and nothing else resolves', () => {
      for (const [subpath, conditions] of Object.entries(pkg.manifest.exports ?? {})) {
        assert.deepEqual(Object.keys(conditions), ['@baton/source', 'types', 'default'], subpath);
        assert.match(conditions.types!, /^\.\/dist\/.+\.d\.ts$/, subpath);
        assert.match(conditions.default!, /^\.\/dist\/.+\.js$/, subpath);
        assert.ok(pkg.files.includes(conditions.types!.slice(2)), `${subpath} types not packed`);
        assert.ok(pkg.files.includes(conditions.default!.slice(2)), `${subpath} code not packed`);
      }
    });

    test('inner dependencies are ranges, and bins are compiled JavaScript with a shebang', () => {
      for (const [name, range] of Object.entries(pkg.manifest.dependencies ?? {})) {
        if (name.startsWith('@baton/')) assert.match(range, /^\^\d+\.\d+\.\d+$/, name);
      }
      for (const [bin, path] of Object.entries(pkg.manifest.bin ?? {})) {
        assert.match(path, /^\.\/dist\/.+\.js$/, bin);
        const code = readFileSync(join(ROOT, pkg.workspace, path), 'utf8');
        assert.ok(code.startsWith('#!/usr/bin/env node\n'), `${bin} has no shebang`);
      }
    });

    test('publint (strict) finds nothing', async () => {
      const tarball = readFileSync(pkg.tarball);
      const { messages } = await publint({
        pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
        level: 'suggestion',
        strict: true,
      });
      assert.deepEqual(messages, []);
    });

    test('@arethetypeswrong/cli finds no type resolution problem (ESM-only profile)', () => {
      // Exits non-zero and prints the problems when it finds one.
      execFileSync(process.execPath, [ATTW, pkg.tarball, '--profile', 'esm-only', '--format', 'ascii'], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      });
    });
  });
}
