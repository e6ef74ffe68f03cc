import type { AuditOutcome } from '@baton/audit';
import { stateOf } from './graph-svg.ts';
import { html, type SafeHtml } from './html.ts';

const WORDS = { ok: 'ok', denied: '✕ denied', 'step-up': '⤴ denied: step-up', error: '! error' } as const;

/** An outcome as a badge: a symbol and words as well as a colour. */
export function outcomeBadge(outcome: AuditOutcome, stepUp: boolean): SafeHtml {
  const state = stateOf(outcome, stepUp);
  return html`<span class="badge state-${state}">${WORDS[state]}</span>`;
}

/** `2026-05-04T09:15:00.203Z` as `2026-05-04 09:15:00.203 UTC`: same instant, easier to scan. */
export function timeText(time: string): string {
  return time.replace('T', ' ').replace(/Z$/, ' UTC');
}

/** The link to a trace's page; the id is untrusted text, so it is encoded as one path segment. */
export function traceHref(traceId: string): string {
  return `/traces/${encodeURIComponent(traceId)}`;
}
