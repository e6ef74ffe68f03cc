/**
 * Vault throughput on this machine: `put` (fresh data key, AES-256-GCM seal, wrap, store) and `get`
 * (parse, unwrap, open) per second, sequential on one core, over the in-memory store so the key store
 * and the crypto are what is measured. Called by the repo's `npm run bench`; nothing here passes or
 * fails.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createVault,
  type EntryId,
  FileKeyStore,
  type KeyStore,
  MemoryVaultStore,
  Pkcs11KeyStore,
} from './src/index.ts';

const SOFTHSM_LIBRARY = process.env.BATON_VAULT_PKCS11_LIBRARY ?? '/usr/lib/softhsm/libsofthsm2.so';
/** A typical cached access token: a ~900-byte JWT. */
const TOKEN = `eyJhbGciOiJFUzI1NiJ9.${randomBytes(660).toString('base64url')}.${randomBytes(64).toString('base64url')}`;

const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function rate(iterations: number, run: (index: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(500, iterations); i++) await run(i);
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await run(i);
  return iterations / ((performance.now() - started) / 1000);
}

async function measure(
  label: string,
  keyStore: KeyStore,
  iterations: number,
): Promise<Record<string, string>> {
  const vault = createVault({ keyStore, store: new MemoryVaultStore() });
  const ids: EntryId[] = Array.from({ length: iterations }, (_, index) => ({
    namespace: 'obo',
    key: `user-${index}|agent-1|https://orders.example|orders:read`,
  }));
  const put = await rate(iterations, (index) => vault.put(ids[index]!, TOKEN, { ttlSeconds: 300 }));
  const get = await rate(iterations, async (index) => {
    if ((await vault.get(ids[index]!)) !== TOKEN) throw new Error('vault bench: round trip failed');
  });
  return {
    'key store': label,
    store: 'memory',
    'put (encrypt) /s': fmt(put),
    'get (decrypt) /s': fmt(get),
    'put µs': fmt(1e6 / put, 1),
    'get µs': fmt(1e6 / get, 1),
  };
}

/** The floor: AES-256-GCM seal and open of the same token with a fresh key, no wrapping, no record, no store. */
async function bare(iterations: number): Promise<Record<string, string>> {
  const aad = Buffer.from('obo:user|agent|aud|scope');
  let last = { key: randomBytes(32), iv: randomBytes(12), ct: Buffer.alloc(0), tag: Buffer.alloc(0) };
  const seal = await rate(iterations, () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
    const ct = Buffer.concat([cipher.update(TOKEN, 'utf8'), cipher.final()]);
    last = { key, iv, ct, tag: cipher.getAuthTag() };
  });
  const open = await rate(iterations, () => {
    const decipher = createDecipheriv('aes-256-gcm', last.key, last.iv).setAAD(aad).setAuthTag(last.tag);
    Buffer.concat([decipher.update(last.ct), decipher.final()]).toString('utf8');
  });
  return {
    'key store': 'none: bare AES-256-GCM (fresh key, no wrap, no store)',
    store: '-',
    'put (encrypt) /s': fmt(seal),
    'get (decrypt) /s': fmt(open),
    'put µs': fmt(1e6 / seal, 1),
    'get µs': fmt(1e6 / open, 1),
  };
}

/**
 * A throwaway SoftHSM2 token for the PKCS#11 row. SoftHSM2 reads SOFTHSM2_CONF when the library is
 * initialised, so it is set for the duration and restored.
 */
async function withSoftHsm<T>(run: (options: { tokenLabel: string; pin: string }) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-vault-bench-'));
  const previous = process.env.SOFTHSM2_CONF;
  try {
    mkdirSync(join(dir, 'tokens'), { mode: 0o700 });
    writeFileSync(
      join(dir, 'softhsm2.conf'),
      `directories.tokendir = ${join(dir, 'tokens')}\nlog.level = ERROR\n`,
    );
    process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
    const token = { tokenLabel: 'vault-bench', pin: randomBytes(8).toString('hex') };
    execFileSync(
      'softhsm2-util',
      [
        '--init-token',
        '--free',
        '--label',
        token.tokenLabel,
        '--so-pin',
        randomBytes(8).toString('hex'),
        '--pin',
        token.pin,
      ],
      { stdio: 'pipe' },
    );
    return await run(token);
  } finally {
    if (previous === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previous;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchVault(iterations = 20_000): Promise<Array<Record<string, string>>> {
  const rows: Array<Record<string, string>> = [await bare(iterations)];
  const dir = mkdtempSync(join(tmpdir(), 'baton-vault-bench-keys-'));
  try {
    const keyStore = await FileKeyStore.open({ path: join(dir, 'keys.json') });
    rows.push(await measure('file (AES key wrap in process)', keyStore, iterations));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!existsSync(SOFTHSM_LIBRARY)) {
    rows.push({ 'key store': 'PKCS#11 (SoftHSM2)', store: `skipped: ${SOFTHSM_LIBRARY} not installed` });
    return rows;
  }
  try {
    rows.push(
      await withSoftHsm(async ({ tokenLabel, pin }) => {
        const keyStore = await Pkcs11KeyStore.open({
          library: SOFTHSM_LIBRARY,
          tokenLabel,
          pin,
          keyLabel: 'vault-bench-kek',
          generateIfMissing: true,
        });
        try {
          return await measure(
            'PKCS#11 (SoftHSM2, CKM_AES_KEY_WRAP in token)',
            keyStore,
            Math.min(iterations, 5000),
          );
        } finally {
          await keyStore.close();
        }
      }),
    );
  } catch (error) {
    rows.push({ 'key store': 'PKCS#11 (SoftHSM2)', store: `unavailable: ${(error as Error).message}` });
  }
  return rows;
}
