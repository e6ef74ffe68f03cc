import { type AuditEvent, type AuditEventInput, auditEvent } from '@baton/audit';

let counter = 0;

/** A complete audit event; every field can be overridden, `time` included. */
export function makeEvent(
  overrides: Partial<AuditEventInput> & { time?: string; id?: string } = {},
): AuditEvent {
  counter++;
  const { time, id, ...input } = overrides;
  const event = auditEvent({
    action: 'tool.invoke',
    component: 'https://orders-mcp.example',
    trace_id: `trace-${counter}`,
    initiator: { sub: 'alice', tenant: 'acme' },
    agent: { id: 'agent-1', client_id: 'client-1' },
    target: { type: 'tool', name: 'orders.list' },
    delegation_mode: 'service_identity',
    scopes: ['orders:read'],
    outcome: 'ok',
    duration_ms: 1.5,
    ...input,
  });
  return { ...event, ...(time !== undefined ? { time } : {}), ...(id !== undefined ? { id } : {}) };
}
