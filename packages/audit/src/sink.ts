import type { AuditEvent } from './event.ts';

/**
 * Where audit events go. `write` resolves once the event is as durable as the sink promises; a sink
 * that cannot record an event must reject, never drop it silently, so the caller can apply its
 * declared failure policy.
 */
export interface AuditSink {
  write(event: AuditEvent): Promise<void>;
}

/** Keeps events in memory, in order: for tests and for a demo that prints them. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];

  async write(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
}

/** Writes every event to each sink; rejects if any sink rejects (after all were tried). */
export function fanOut(...sinks: AuditSink[]): AuditSink {
  return {
    async write(event) {
      const results = await Promise.allSettled(sinks.map((sink) => sink.write(event)));
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
