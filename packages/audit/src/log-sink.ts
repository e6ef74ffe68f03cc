import { type DestinationStream, type Logger, pino } from 'pino';
import type { AuditEvent } from './event.ts';
import type { AuditSink } from './sink.ts';

/**
 * Paths a careless caller might add to a log object; redacted as a second line of defence. Audit
 * events themselves have no such fields.
 */
export const REDACTED_LOG_PATHS = [
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'envelope_token',
  'client_secret',
  '*.token',
  '*.access_token',
  '*.authorization',
  '*.client_secret',
];

/** A pino logger configured for Baton: JSON lines, ISO time, sensitive paths redacted. */
export function createLogger(options: {
  name: string;
  level?: string;
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    },
    options.destination,
  );
}

/**
 * Structured-log audit sink: one JSON line per event under `audit`. As durable as the log pipeline
 * (issue #5 adds stores that commit before the response).
 */
export class LogAuditSink implements AuditSink {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    if (!logger) throw new TypeError('LogAuditSink: a pino logger is required');
    // Audit events are a closed shape with no field that can hold a secret, so the redaction pass
    // (a measurable share of a tool call) is skipped for them; other log lines keep it.
    this.#logger = logger.child({}, { redact: { paths: [] } });
  }

  async write(event: AuditEvent): Promise<void> {
    this.#logger.info({ audit: event }, `audit ${event.action} ${event.outcome}`);
  }
}
