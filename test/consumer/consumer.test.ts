/**
 * Baton as a new user gets it: every package packed with `npm pack`, installed from the tarballs into a
 * project outside the workspace (third-party dependencies from the registry), then run from plain
 * JavaScript on Node 22 and Node 24 (both from the npm `node` package) and type-checked as a strict
 * TypeScript project. Needs `npm run build` first (`npm test` does it); touches nothing outside its
 * temporary directory, npm cache included.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type PackedPackage, packWorkspaces, ROOT } from '../helpers/pack.ts';

const run = promisify(execFile);
const FIXTURE = new URL('./fixture/', import.meta.url).pathname;
const NODE_22 = '22';

/** The outside world's environment: no `@baton/source` condition, no npm settings of this workspace. */
function outsideEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key !== 'NODE_OPTIONS' && !key.startsWith('npm_')),
  );
}

function workspaceRange(workspace: string, dependency: string): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const range = manifest.dependencies?.[dependency] ?? manifest.devDependencies?.[dependency];
  assert.ok(range, `${workspace} has no ${dependency}`);
  return range;
}

async function npm(cwd: string, args: string[]): Promise<void> {
  const cache = join(cwd, '..', 'npm-cache');
  await run('npm', [...args, '--no-audit', '--no-fund', '--cache', cache], {
    cwd,
    env: outsideEnvironment(),
    maxBuffer: 16 * 1024 * 1024,
  });
}

describe('an outside project installs the packed packages', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'baton-consumer-'));
  const project = join(work, 'project');
  const node22 = join(work, 'node22');
  let packed: PackedPackage[] = [];

  before(async () => {
    cpSync(FIXTURE, project, { recursive: true });
    packed = packWorkspaces(work);
    const tarballs = Object.fromEntries(packed.map((pkg) => [pkg.name, `file:${pkg.tarball}`]));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'baton-consumer',
        private: true,
        type: 'module',
        dependencies: {
          ...tarballs,
          '@modelcontextprotocol/client': workspaceRange(
            'packages/mcp-server',
            '@modelcontextprotocol/client',
          ),
          '@modelcontextprotocol/server': workspaceRange(
            'packages/mcp-server',
            '@modelcontextprotocol/server',
          ),
          zod: workspaceRange('packages/mcp-server', 'zod'),
          // What a user of `@baton/downstream-verifier/express` or `/hono` has (optional peers of that package).
          express: workspaceRange('packages/downstream-verifier', 'express'),
          hono: workspaceRange('packages/downstream-verifier', 'hono'),
        },
        devDependencies: {
          '@types/express': workspaceRange('packages/downstream-verifier', '@types/express'),
          '@types/node': workspaceRange('.', '@types/node'),
        },
        // Inner `^0.1.0` ranges resolve to these tarballs, never to a registry package of the same name.
        overrides: Object.fromEntries(packed.map((pkg) => [pkg.name, `$${pkg.name}`])),
      }),
    );
    cpSync(join(FIXTURE, '..', 'node22.json'), join(node22, 'package.json'));
    // No install scripts in the project (an optional native module, pkcs11js, would try to compile);
    // the `node` package needs its own to fetch the platform binary.
    await Promise.all([
      npm(project, ['install', '--ignore-scripts']),
      npm(node22, ['install', `node@${NODE_22}`]),
    ]);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const runsTheFlow = async (node: string, major: string) => {
    const { stdout } = await run(node, ['server.mjs'], {
      cwd: project,
      env: outsideEnvironment(),
      timeout: 60_000,
    });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      node: string;
      firstAnswer: string;
      clientId: string;
      scope: string;
      tool: { sub: string; agent: string };
      mtls: { spiffeId?: string };
      audit: Array<{ target: string; outcome: string; initiator: string; agent: string }>;
    };
    assert.match(seen.node, new RegExp(`^v${major}\\.`));
    assert.equal(seen.firstAnswer, 'unauthorized', 'the first request must get the 401 challenge');
    assert.equal(seen.scope, 'orders:read');
    assert.deepEqual(seen.tool, { sub: 'user-alice', agent: seen.clientId });
    assert.deepEqual(seen.mtls, { spiffeId: 'spiffe://consumer.test/mcp' });
    assert.deepEqual(seen.audit, [
      { target: 'whoami', outcome: 'ok', initiator: 'user-alice', agent: seen.clientId },
    ]);
  };

  test('on Node 24, a plain-JavaScript SDK v2 server behind the boundary serves the SDK client after the whole OAuth flow', async () => {
    await runsTheFlow(process.execPath, '24');
  });

  test('on Node 22, the same server and OAuth flow work from the installed JavaScript', async () => {
    await runsTheFlow(join(node22, 'node_modules', '.bin', 'node'), NODE_22);
  });

  test('a strict TypeScript consumer (NodeNext, exactOptionalPropertyTypes, no .ts imports) type-checks', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = await run(
      process.execPath,
      [tsc, '-p', join(project, 'tsconfig.json'), '--pretty', 'false'],
      {
        cwd: project,
        env: outsideEnvironment(),
      },
    ).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    // `skipLibCheck` is off so that Baton's own declarations are checked under the consumer's settings;
    // errors inside other projects' declarations (say, @types/koa against a newer content-disposition)
    // are theirs and do not fail Baton.
    const ours = output
      .split('\n')
      .filter((line) => /error TS\d+/.test(line))
      .filter((line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/@baton/'));
    assert.deepEqual(ours, [], `tsc found errors:\n${output}`);
  });

  test('reports what a user downloads', () => {
    for (const pkg of packed)
      console.log(`${pkg.name}: ${(pkg.size / 1024).toFixed(1)} kB packed, ${pkg.files.length} files`);
  });
});
