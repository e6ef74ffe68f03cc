/**
 * One thing a component needs before it can serve: a store it can reach, keys it has loaded. `check`
 * resolves when ready and throws (or rejects) when not; it gets a signal that aborts at the deadline.
 *
 * @example
 * const postgres: ReadinessCheck = { name: 'postgres', check: () => pool.query('SELECT 1') };
 */
export interface ReadinessCheck {
  /** Names the check in the `/readyz` body: a short fixed word (`postgres`, `redis`, `signing_keys`). */
  readonly name: string;
  check(signal: AbortSignal): unknown;
}

/** One check's result. `error` is a code (`timeout`, `ECONNREFUSED`, `failed`), never a message. */
export interface ReadinessResult {
  name: string;
  ok: boolean;
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessResult[];
}

/** Default deadline of one readiness probe, for all its checks at once. */
export const DEFAULT_READINESS_TIMEOUT_MS = 1500;

/**
 * Error messages can carry connection strings (a host with its password): only a code-shaped
 * `code` property (`ECONNREFUSED`, `ERR_BROKER_STORE_TIMEOUT`, a SQLSTATE) is reported, else `failed`.
 */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,48}$/.test(code) ? code : 'failed';
}

/**
 * Runs every check concurrently within one deadline. Ready only when every check resolved in time.
 *
 * @example
 * const report = await checkReadiness([postgres, redis], { timeoutMs: 1000 });
 * if (!report.ready) console.log(report.checks.filter((check) => !check.ok));
 */
export async function checkReadiness(
  checks: readonly ReadinessCheck[],
  options: { timeoutMs?: number } = {},
): Promise<ReadinessReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve('timeout');
    }, timeoutMs);
  });
  try {
    const results = await Promise.all(
      checks.map(async ({ name, check }): Promise<ReadinessResult> => {
        try {
          const outcome = await Promise.race([
            Promise.resolve()
              .then(() => check(controller.signal))
              .then(() => 'ok' as const),
            expired,
          ]);
          return outcome === 'ok' ? { name, ok: true } : { name, ok: false, error: 'timeout' };
        } catch (error) {
          return { name, ok: false, error: errorCode(error) };
        }
      }),
    );
    return { ready: results.every((result) => result.ok), checks: results };
  } finally {
    clearTimeout(timer);
  }
}
