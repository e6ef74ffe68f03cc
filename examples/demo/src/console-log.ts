import { Writable } from 'node:stream';
import type { AuditEvent, AuditSink } from '@baton/audit';

/**
 * Renders the demo's structured log lines (pino JSON) as one readable line each. The JSON carries no
 * token by construction; this only chooses which fields a person reads.
 */
export function consoleLogDestination(prefix: string, write: (line: string) => void): Writable {
  return new Writable({
    write(chunk, _encoding, callback) {
      for (const raw of String(chunk).split('\n')) {
        if (raw.trim() === '') continue;
        const line = JSON.parse(raw) as Record<string, unknown>;
        const fields = ['status', 'error', 'reason', 'step', 'signal']
          .filter((key) => line[key] !== undefined)
          .map((key) => `${key}=${String(line[key])}`)
          .join(' ');
        write(`${prefix} ${levelName(line.level)} ${String(line.msg)}${fields ? ` (${fields})` : ''}`);
      }
      callback();
    },
  });
}

function levelName(level: unknown): string {
  return ({ 30: 'info', 40: 'warn', 50: 'error' } as Record<string, string>)[String(level)] ?? 'log';
}

/** An audit sink that prints each event as one line keeping user and agent apart. */
export function printedAuditSink(write: (line: string) => void): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    async write(event) {
      events.push(event);
      const component = new URL(event.component).port;
      write(
        `  audit  ${event.outcome.padEnd(6)} ${event.action.padEnd(14)} at :${component} ${event.target.type}=${event.target.name} ` +
          `user=${event.initiator.sub} agent=${event.agent.client_id.slice(0, 8)}… mode=${event.delegation_mode} ` +
          `chain=${(event.chain ?? []).map((party) => (party.length > 16 ? `${party.slice(0, 8)}…` : party)).join('>')} ` +
          `trace=${event.trace_id.slice(0, 8)}…` +
          (event.reason ? ` reason=${event.reason}` : ''),
      );
    },
  };
}
