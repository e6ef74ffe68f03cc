import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** What a user downloads: every package under `packages/`, plus the demo identity provider the consumer test signs in with. */
export const PACKED_WORKSPACES = [
  ...readdirSync(join(ROOT, 'packages')).map((name) => `packages/${name}`),
  'examples/demo-idp',
];

export interface PackedPackage {
  name: string;
  workspace: string;
  tarball: string;
  size: number;
  files: string[];
  manifest: PackageManifest;
}

export interface PackageManifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  engines?: { node?: string };
  exports?: Record<string, Record<string, string>>;
  bin?: Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
}

interface NpmPackResult {
  name: string;
  filename: string;
  size: number;
  files: { path: string }[];
}

/** `npm pack` every packed workspace into `destination` (run `npm run build` first: the tarballs carry `dist/`). */
export function packWorkspaces(destination: string): PackedPackage[] {
  const output = execFileSync(
    'npm',
    ['pack', '--json', '--pack-destination', destination, ...PACKED_WORKSPACES.flatMap((w) => ['-w', w])],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const results = JSON.parse(output) as NpmPackResult[];
  return results.map((result, index) => {
    const workspace = PACKED_WORKSPACES[index]!;
    return {
      name: result.name,
      workspace,
      tarball: join(destination, result.filename),
      size: result.size,
      files: result.files.map((file) => file.path),
      manifest: JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8')) as PackageManifest,
    };
  });
}
