import type { KeyObject } from 'node:crypto';
import {
  createSecretFile,
  isMissingSecretFile,
  readSecretFile,
  withFileLock,
  writeSecretFile,
} from '@baton/core/node';
import { ENVELOPE_ALGORITHMS, type EnvelopeAlgorithm, isEnvelopeAlgorithm } from './compact-jws.ts';
import { EnvelopeError } from './errors.ts';
import {
  keysUnavailable,
  parseKeyFile,
  parseOperatorJwks,
  type RingState,
  serializeKeyFile,
  type VerifyingEntry,
} from './key-file.ts';
import { type EnvelopeKeys, generateEntry, type JsonWebKeySet, type RingEntry, unixNow } from './key-ring.ts';

/** Default seconds between re-reads of the key file (or the operator's JWKS file) by each instance. */
const DEFAULT_RELOAD_SECONDS = 5;
/**
 * What a staged key waits for by default, beyond the reload interval: `remoteJwksResolver`'s default
 * cache age (600 s, the downstream verifier's) plus the boundary's JWKS `cache-control: max-age=60`.
 */
const DEFAULT_VERIFIER_CACHE_SECONDS = 660;
/** Consecutive failed re-reads after which the keys stop signing, by default. */
const DEFAULT_MAX_FAILED_RELOADS = 3;
/** How long a stage or rotation waits for another one to finish with the file. */
const LOCK_WAIT_MS = 5000;
const KEY_FILE = 'envelope key file';
const JWKS_FILE = 'envelope JWKS file';

export interface SharedEnvelopeKeysOptions {
  /**
   * How long a rotated-out key stays published after the last envelope any instance may have signed
   * with it (the rotation adds `reloadIntervalSeconds` for instances that have not re-read the file
   * yet). Must cover the envelope lifetime (`EnvelopeIssuer` checks) plus clock skew between instances.
   * For an operator's JWKS, it is the operator's promise: how long a key stays in the JWKS after it
   * stopped signing.
   */
  retentionSeconds: number;
  /** How often each instance re-reads the file, picking up another instance's stage or rotation. Default 5. */
  reloadIntervalSeconds?: number;
  /**
   * How long a staged key must have been published before `rotate()` makes it sign: at least
   * `reloadIntervalSeconds` (every instance publishes it) plus the longest JWKS cache age of any
   * verifier (`remoteJwksResolver`'s `cacheMaxAgeMs`, default 600 s) plus any HTTP cache in between
   * (the boundary sends `max-age=60`). Default `reloadIntervalSeconds + 660`. Key file only.
   */
  propagationSeconds?: number;
  /** Algorithm of keys this source generates. Default `ES256`. Key file only. */
  algorithm?: EnvelopeAlgorithm;
  /**
   * Called when a periodic re-read fails (file removed, made readable by others, corrupt). The keys in
   * use stay the last good ones; the error is an `EnvelopeError` (`ERR_ENVELOPE_KEYS_UNAVAILABLE`)
   * whose message names the file, never its content.
   */
  onReloadError?: (error: EnvelopeError) => void;
  /**
   * Consecutive failed re-reads after which `signingKey` throws `ERR_ENVELOPE_KEYS_UNAVAILABLE` (so
   * minting fails closed) and `healthy` is false (so `/readyz` fails), until a re-read succeeds: past
   * that, the fleet may have rotated and stopped publishing the key this instance would sign with.
   * Default 3.
   */
  maxFailedReloads?: number;
  /** Clock in Unix seconds, for tests. */
  now?: () => number;
}

type Source =
  | { kind: 'key-file'; path: string }
  | { kind: 'jwks-file'; path: string }
  | { kind: 'jwks'; description: string };

interface Loaded {
  signing: RingEntry;
  /** The staged key's `kid` (key file only). */
  staged?: string;
  /** Published and verifying besides the signing key: staged, retiring (with `retireAt`), or the operator's. */
  others: Array<VerifyingEntry & { retireAt?: number }>;
}

/**
 * Envelope signing keys several instances of one server share, so every instance behind one URL signs
 * with the same active key and publishes the same JWKS. Three sources:
 *
 * - `fromKeyFile(path)`: an owner-only key file holding the ring (active, staged, retiring keys). The
 *   first instance creates it; `stageNextKey()` and `rotate()` from any one instance rewrite it under
 *   a lock, and every instance re-reads it every `reloadIntervalSeconds`.
 * - `fromJwksFile(path)`: an operator's JWKS of private keys (a mounted secret), read only and re-read
 *   on the same interval. The first key signs.
 * - `fromJwks(text)`: the same document from memory (an environment variable), never re-read.
 *
 * Rotation is publish-then-sign across the fleet: `stageNextKey()` publishes the next key at every
 * instance within `reloadIntervalSeconds`; `rotate()` refuses (`ERR_ENVELOPE_ROTATION_REFUSED`) until it
 * has been published for `propagationSeconds`, so every verifier's cached JWKS holds it before any
 * instance signs with it.
 *
 * @example
 * const keys = await SharedEnvelopeKeys.fromKeyFile('/var/lib/orders-mcp/envelope-keys.json', { retentionSeconds: 900 });
 * const envelopes = new EnvelopeIssuer({ issuer: resource, trustDomain: 'example', keys });
 * // Rotation, from one instance (or an operator's job): stage, wait propagationSeconds, rotate.
 * await keys.stageNextKey();
 * await keys.rotate(); // refused until the staged key has been published long enough
 * keys.close();        // on shutdown: stops re-reading the file
 */
export class SharedEnvelopeKeys implements EnvelopeKeys {
  readonly retentionSeconds: number;
  readonly reloadIntervalSeconds: number;
  readonly propagationSeconds: number;
  readonly algorithm: EnvelopeAlgorithm;
  readonly #source: Source;
  readonly #now: () => number;
  readonly #onReloadError: ((error: EnvelopeError) => void) | undefined;
  #loaded: Loaded;
  #text: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  /** Counts this instance's own writes, so a re-read that started before one never undoes it. */
  #writes = 0;
  readonly #maxFailedReloads: number;
  /** Re-reads that failed since the last one that succeeded. */
  #failedReloads = 0;
  #lastReloadError: EnvelopeError | undefined;
  /** The staged key and when this instance first saw it (its clock), for `rotate()`. */
  #stagedSeen: { kid: string; at: number } | undefined;

  private constructor(source: Source, options: SharedEnvelopeKeysOptions, loaded: Loaded, text?: string) {
    this.#source = source;
    this.retentionSeconds = options.retentionSeconds;
    this.reloadIntervalSeconds = options.reloadIntervalSeconds ?? DEFAULT_RELOAD_SECONDS;
    this.propagationSeconds =
      options.propagationSeconds ?? this.reloadIntervalSeconds + DEFAULT_VERIFIER_CACHE_SECONDS;
    this.algorithm = options.algorithm ?? 'ES256';
    this.#now = options.now ?? unixNow;
    this.#onReloadError = options.onReloadError;
    this.#maxFailedReloads = options.maxFailedReloads ?? DEFAULT_MAX_FAILED_RELOADS;
    this.#loaded = loaded;
    this.#text = text;
    this.#noteStaged(loaded);
    if (source.kind !== 'jwks') {
      this.#timer = setInterval(() => {
        this.reload().catch((error: unknown) => this.#onReloadError?.(error as EnvelopeError));
      }, this.reloadIntervalSeconds * 1000);
      this.#timer.unref();
    }
  }

  /**
   * Keys from a shared key file, created (owner-only, 0600 in a 0700 directory) with one new key if
   * missing; instances starting together agree on one file. A file group or others can read or write,
   * a symbolic link, or a corrupt file is refused with `ERR_ENVELOPE_KEYS_UNAVAILABLE`.
   */
  static async fromKeyFile(
    path: string,
    options: SharedEnvelopeKeysOptions & {
      /**
       * Create the file (with one new key) when it is missing. Default true. A fleet member that must
       * sign with the fleet's keys passes false: a missing shared file (an unmounted volume, a wrong
       * path) is refused with `ERR_ENVELOPE_KEYS_UNAVAILABLE` instead of starting a ring of its own,
       * whose key no other instance publishes.
       */
      create?: boolean;
    },
  ): Promise<SharedEnvelopeKeys> {
    checkOptions(options, 'fromKeyFile');
    if (typeof path !== 'string' || path === '') {
      throw new TypeError('SharedEnvelopeKeys.fromKeyFile: path is required');
    }
    const algorithm = options.algorithm ?? 'ES256';
    let text: string;
    try {
      text = await readKeyFile(path);
    } catch (error) {
      if (!isMissingSecretFile(error)) throw error;
      if (options.create === false) {
        throw keysUnavailable(
          `${KEY_FILE} ${path} does not exist, and create is false: not starting a key ring of this instance's own`,
          error,
        );
      }
      const created = serializeKeyFile({ active: generateEntry(algorithm), retiring: [] });
      // Instances starting together: one publishes its file, the others read the winner's.
      await createSecretFile(path, created).catch((cause: unknown) => {
        throw writeFailure(path, cause);
      });
      text = await readKeyFile(path);
    }
    return new SharedEnvelopeKeys(
      { kind: 'key-file', path },
      options,
      fromState(parseKeyFile(text, path, KEY_FILE)),
      text,
    );
  }

  /**
   * Keys from an operator's JWKS file of private keys (e.g. a secret manager's mounted file; a link is
   * followed, the mode is checked on its target): the first key signs, the others are published and
   * verify. Read only; re-read every `reloadIntervalSeconds`. To rotate, the operator appends the new key,
   * waits the propagation time, moves it first, and removes the old one after `retentionSeconds`.
   */
  static async fromJwksFile(
    path: string,
    options: Omit<SharedEnvelopeKeysOptions, 'propagationSeconds' | 'algorithm'>,
  ): Promise<SharedEnvelopeKeys> {
    checkOptions(options, 'fromJwksFile');
    if (typeof path !== 'string' || path === '') {
      throw new TypeError('SharedEnvelopeKeys.fromJwksFile: path is required');
    }
    const text = await readJwksFile(path);
    return new SharedEnvelopeKeys(
      { kind: 'jwks-file', path },
      options,
      fromJwks(text, path, JWKS_FILE),
      text,
    );
  }

  /**
   * Keys from an operator's JWKS in memory (an environment variable): the first key, private, signs.
   * Never re-read. `description` names the source in errors (default `"the supplied JWKS"`); the
   * document itself is never quoted.
   */
  static fromJwks(
    jwks: string | { keys: unknown },
    options: Pick<SharedEnvelopeKeysOptions, 'retentionSeconds' | 'now'> & { description?: string },
  ): SharedEnvelopeKeys {
    checkOptions(options, 'fromJwks');
    const description = options.description ?? 'the supplied JWKS';
    return new SharedEnvelopeKeys(
      { kind: 'jwks', description },
      options,
      fromJwks(jwks, description, 'envelope JWKS'),
    );
  }

  /** The key new envelopes are signed with: the same at every instance once it has re-read the source. */
  get signingKey(): {
    readonly kid: string;
    readonly alg: EnvelopeAlgorithm;
    readonly privateKey: KeyObject;
  } {
    if (!this.healthy) {
      throw keysUnavailable(
        `the envelope keys could not be re-read ${this.#failedReloads} times in a row (${this.#lastReloadError?.message ?? 'error'}); ` +
          'not signing with a key the other instances may no longer publish',
        this.#lastReloadError,
      );
    }
    return this.#loaded.signing;
  }

  /** False after `maxFailedReloads` consecutive failed re-reads (until one succeeds): `signingKey` throws then. */
  get healthy(): boolean {
    return this.#failedReloads < this.#maxFailedReloads;
  }

  /** The error of the last re-read if it failed, else `undefined`. */
  get lastReloadError(): EnvelopeError | undefined {
    return this.#lastReloadError;
  }

  /** The signing key, the staged key and keys not yet retired (or the operator's other keys). Public members only. */
  jwks(): JsonWebKeySet {
    const now = this.#now();
    return {
      keys: [this.#loaded.signing, ...this.#loaded.others]
        .filter((entry) => (entry.retireAt ?? Number.POSITIVE_INFINITY) > now)
        .map((entry) => entry.publicJwk),
    };
  }

  /** The verification key for `kid` if these keys still accept it, else `undefined`. */
  publicKey(kid: string): { readonly alg: EnvelopeAlgorithm; readonly key: KeyObject } | undefined {
    const now = this.#now();
    const entry = [this.#loaded.signing, ...this.#loaded.others].find(
      (candidate) => candidate.kid === kid && (candidate.retireAt ?? Number.POSITIVE_INFINITY) > now,
    );
    return entry ? { alg: entry.alg, key: entry.publicKey } : undefined;
  }

  /**
   * Re-reads the source now (the timer does this every `reloadIntervalSeconds`). An unchanged file costs
   * one read. Throws `ERR_ENVELOPE_KEYS_UNAVAILABLE` and keeps the last good keys if the file is refused.
   */
  reload(): Promise<void> {
    this.#reloading ??= this.#reload()
      .then(
        () => {
          this.#failedReloads = 0;
          this.#lastReloadError = undefined;
        },
        (error: unknown) => {
          this.#failedReloads += 1;
          this.#lastReloadError = error as EnvelopeError;
          throw error;
        },
      )
      .finally(() => {
        this.#reloading = undefined;
      });
    return this.#reloading;
  }

  async #reload(): Promise<void> {
    const source = this.#source;
    if (source.kind === 'jwks') return;
    const writes = this.#writes;
    const text =
      source.kind === 'key-file' ? await readKeyFile(source.path) : await readJwksFile(source.path);
    if (text === this.#text || writes !== this.#writes) return;
    this.#loaded =
      source.kind === 'key-file'
        ? fromState(parseKeyFile(text, source.path, KEY_FILE))
        : fromJwks(text, source.path, JWKS_FILE);
    this.#text = text;
    this.#noteStaged(this.#loaded);
  }

  /** Remembers when this instance first saw the staged key (a new one restarts the count). */
  #noteStaged(loaded: Loaded): void {
    const staged = loaded.staged;
    if (staged === undefined) this.#stagedSeen = undefined;
    else if (this.#stagedSeen?.kid !== staged) this.#stagedSeen = { kid: staged, at: this.#now() };
  }

  /**
   * Publishes the next signing key in the shared file without signing with it; every instance publishes
   * it within `reloadIntervalSeconds`. If a key is staged already (by this or another instance), that
   * one stays and its `kid` is returned: two instances staging at once agree. Key file only.
   */
  async stageNextKey(algorithm: EnvelopeAlgorithm = this.algorithm): Promise<string> {
    if (!isEnvelopeAlgorithm(algorithm)) {
      throw new TypeError(`SharedEnvelopeKeys: algorithm must be one of ${ENVELOPE_ALGORITHMS.join(', ')}`);
    }
    return this.#update((state, now) => {
      if (state.staged) return state.staged.kid;
      state.staged = { ...generateEntry(algorithm), stagedAt: now };
      return state.staged.kid;
    });
  }

  /**
   * Makes the staged key the signing key at every instance (within `reloadIntervalSeconds`); the previous
   * one stays published for `reloadIntervalSeconds + retentionSeconds`. Refused with
   * `ERR_ENVELOPE_ROTATION_REFUSED` when no key is staged or it was staged less than `propagationSeconds`
   * ago: a verifier might not have it yet. "Ago" counts from the later of the file's `staged_at` and when
   * this instance first saw the key, so a stamp from another instance's fast clock (or a hand-edited
   * file) cannot shorten the wait. Returns the new signing `kid`. Key file only.
   */
  async rotate(): Promise<string> {
    return this.#update((state, now) => {
      const staged = state.staged;
      if (!staged) {
        throw new EnvelopeError('ERR_ENVELOPE_ROTATION_REFUSED', 'no key is staged: stageNextKey() first');
      }
      const seen = this.#stagedSeen?.kid === staged.kid ? this.#stagedSeen.at : now;
      const published = now - Math.max(staged.stagedAt, seen);
      if (published < this.propagationSeconds) {
        throw new EnvelopeError(
          'ERR_ENVELOPE_ROTATION_REFUSED',
          `the staged key has been published for ${published} s; verifiers may not have it before ${this.propagationSeconds} s (propagationSeconds)`,
        );
      }
      const { stagedAt: _stagedAt, ...next } = staged;
      state.retiring.push({
        ...state.active,
        retireAt: now + Math.ceil(this.reloadIntervalSeconds) + this.retentionSeconds,
      });
      state.active = next;
      delete state.staged;
      return next.kid;
    });
  }

  /** Stops re-reading the source. The keys stay usable as last read. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A read-modify-write of the key file under its lock; the result is adopted here at once. */
  async #update(change: (state: RingState, now: number) => string): Promise<string> {
    const source = this.#source;
    if (source.kind !== 'key-file') {
      throw new EnvelopeError(
        'ERR_ENVELOPE_ROTATION_REFUSED',
        'an operator-provided JWKS is read only: rotate it where it is kept',
      );
    }
    const label = { label: KEY_FILE, error: keysUnavailable };
    return withFileLock(
      source.path,
      LOCK_WAIT_MS,
      async () => {
        const now = this.#now();
        const state = parseKeyFile(await readKeyFile(source.path), source.path, KEY_FILE);
        // A staged key this instance had not seen yet starts its wait now (rotate() refuses it).
        this.#noteStaged(fromState(state));
        const result = change(state, now);
        state.retiring = state.retiring.filter((entry) => entry.retireAt > now);
        const text = serializeKeyFile(state);
        await writeSecretFile(source.path, text).catch((cause: unknown) => {
          throw writeFailure(source.path, cause);
        });
        this.#writes += 1;
        this.#loaded = fromState(state);
        this.#text = text;
        this.#noteStaged(this.#loaded);
        return result;
      },
      label,
    );
  }
}

function checkOptions(
  options: { retentionSeconds: number; reloadIntervalSeconds?: number; propagationSeconds?: number },
  method: string,
): void {
  const where = `SharedEnvelopeKeys.${method}`;
  if (!Number.isInteger(options?.retentionSeconds) || options.retentionSeconds <= 0) {
    throw new TypeError(`${where}: retentionSeconds must be a positive integer`);
  }
  const reload = options.reloadIntervalSeconds;
  if (reload !== undefined && (!Number.isFinite(reload) || reload <= 0 || reload > 3600)) {
    throw new TypeError(`${where}: reloadIntervalSeconds must be a number of seconds between 0 and 3600`);
  }
  const maxFailed = (options as SharedEnvelopeKeysOptions).maxFailedReloads;
  if (maxFailed !== undefined && (!Number.isInteger(maxFailed) || maxFailed < 1)) {
    throw new TypeError(`${where}: maxFailedReloads must be a positive integer`);
  }
  const propagation = options.propagationSeconds;
  if (
    propagation !== undefined &&
    (!Number.isInteger(propagation) || propagation < (reload ?? DEFAULT_RELOAD_SECONDS))
  ) {
    throw new TypeError(`${where}: propagationSeconds must be an integer of at least reloadIntervalSeconds`);
  }
  const algorithm = (options as SharedEnvelopeKeysOptions).algorithm;
  if (algorithm !== undefined && !isEnvelopeAlgorithm(algorithm)) {
    throw new TypeError(`${where}: algorithm must be one of ${ENVELOPE_ALGORITHMS.join(', ')}`);
  }
}

async function readKeyFile(path: string): Promise<string> {
  // Not through a link: this file is rewritten by rename, which would replace a link, not its target.
  return (await readSecretFile(path, { label: KEY_FILE, error: keysUnavailable })).text;
}

async function readJwksFile(path: string): Promise<string> {
  // A mounted secret is a link; the mode is checked on what it points to.
  return (await readSecretFile(path, { label: JWKS_FILE, error: keysUnavailable, followLinks: true })).text;
}

function fromState(state: RingState): Loaded {
  return {
    signing: state.active,
    ...(state.staged ? { staged: state.staged.kid } : {}),
    others: [...(state.staged ? [state.staged] : []), ...state.retiring],
  };
}

function fromJwks(input: string | { keys: unknown }, source: string, label: string): Loaded {
  const { signing, verifying } = parseOperatorJwks(input, source, label);
  return { signing, others: verifying };
}

function writeFailure(path: string, cause: unknown): EnvelopeError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  return keysUnavailable(`${KEY_FILE} ${path} cannot be written (${code})`, cause);
}
