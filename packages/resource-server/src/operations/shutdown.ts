import type { Server } from 'node:http';

/** The pino-shaped logger shutdown reports its steps to. */
export interface ShutdownLogger {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Default time in-flight requests get to finish once shutdown starts. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * Stops `server` accepting connections, lets requests in flight finish, and closes every connection
 * still open at the deadline. Idle keep-alive connections are closed as soon as they are idle. Resolves
 * with how many connections had to be cut.
 *
 * @example
 * const { cut } = await drainServer(server, { deadlineMs: 5000 });
 */
export async function drainServer(
  server: Server,
  options: { deadlineMs?: number } = {},
): Promise<{ cut: number }> {
  if (!server.listening) return { cut: 0 };
  const deadlineMs = options.deadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A keep-alive connection whose request finishes goes idle: close it then rather than at the deadline.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), deadlineMs);
  });
  try {
    if ((await Promise.race([closed, expired])) !== 'expired') return { cut: 0 };
    const cut = await new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n ?? 0)));
    server.closeAllConnections();
    await closed;
    return { cut };
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
}

/** One step of a shutdown, run in order: drain a server, flush audit, close a store. */
export interface ShutdownStep {
  /** Logged with the step (`http`, `audit`, `stores`). */
  name: string;
  run(): Promise<unknown> | unknown;
}

/**
 * On the first SIGTERM or SIGINT, runs `steps` in order, logging each, then exits: 0 when every step
 * succeeded, 1 otherwise. A second signal exits at once (1). Returns a function that removes the
 * listeners (and runs nothing). Call it before announcing readiness (the "ready" log line): a
 * process manager may signal as soon as it has read that line.
 *
 * @example
 * onShutdownSignal(logger, [
 *   { name: 'http', run: () => drainServer(server) },
 *   { name: 'stores', run: () => stores.close() },
 * ]);
 */
export function onShutdownSignal(
  logger: ShutdownLogger,
  steps: readonly ShutdownStep[],
  options: { exit?: (code: number) => void } = {},
): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;
  const handler = (signal: NodeJS.Signals) => {
    if (started) {
      logger.error({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    started = true;
    void (async () => {
      logger.info({ signal }, 'shutdown started');
      let failed = false;
      for (const step of steps) {
        const start = performance.now();
        try {
          const result = await step.run();
          logger.info(
            {
              step: step.name,
              ms: Math.round(performance.now() - start),
              ...(result && typeof result === 'object' && 'cut' in result ? { cut: result.cut } : {}),
            },
            'shutdown step done',
          );
        } catch (error) {
          failed = true;
          logger.error(
            {
              step: step.name,
              err_name: (error as Error)?.name,
              err_code: (error as { code?: unknown })?.code,
            },
            'shutdown step failed',
          );
        }
      }
      logger.info({ exit_code: failed ? 1 : 0 }, 'shutdown complete');
      exit(failed ? 1 : 0);
    })();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
