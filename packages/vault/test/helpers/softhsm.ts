import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's softhsm2 package installs the module here (a symlink into the multiarch directory). */
export const SOFTHSM_LIBRARY = process.env.BATON_VAULT_PKCS11_LIBRARY ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
}

export interface SoftHsm {
  readonly library: string;
  readonly dir: string;
  readonly tokens: Readonly<Record<string, SoftHsmToken>>;
  cleanup(): void;
}

/**
 * A throwaway SoftHSM2 installation: a temp token directory, a config pointing at it (exported as
 * SOFTHSM2_CONF for this process and for pkcs11-tool children) and fresh tokens, each labelled
 * `<name>-<random>` unless an exact label is given. SoftHSM2 scans
 * tokens when the library is initialised, so every token a test file needs is created here, before
 * any key store opens. Each test file runs in its own process, so each gets its own HSM.
 */
export function createSoftHsm(names: ReadonlyArray<string | { name: string; tokenLabel: string }>): SoftHsm {
  if (!existsSync(SOFTHSM_LIBRARY)) {
    throw new Error(`SoftHSM2 not found at ${SOFTHSM_LIBRARY}: apt-get install -y softhsm2 opensc`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-vault-hsm-'));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  const tokens: Record<string, SoftHsmToken> = {};
  for (const entry of names) {
    const label = typeof entry === 'string' ? entry : entry.name;
    const token = {
      tokenLabel: typeof entry === 'string' ? `${label}-${randomBytes(3).toString('hex')}` : entry.tokenLabel,
      pin: `pin-${randomBytes(6).toString('hex')}`,
      soPin: `so-${randomBytes(6).toString('hex')}`,
    };
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', token.tokenLabel, '--so-pin', token.soPin, '--pin', token.pin],
      { stdio: 'pipe' },
    );
    tokens[label] = token;
  }
  return {
    library: SOFTHSM_LIBRARY,
    dir,
    tokens,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `pkcs11-tool --list-objects` for a token, as opensc prints it: an outside view of what the token holds. */
export function listSecretKeys(hsm: SoftHsm, token: SoftHsmToken): string {
  return execFileSync(
    'pkcs11-tool',
    [
      '--module',
      hsm.library,
      '--token-label',
      token.tokenLabel,
      '--login',
      '--pin',
      token.pin,
      '--list-objects',
      '--type',
      'secrkey',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}
