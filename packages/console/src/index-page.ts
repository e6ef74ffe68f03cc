import { outcomeBadge, timeText, traceHref } from './badges.ts';
import type { FilterValues } from './filters.ts';
import { html, type SafeHtml } from './html.ts';
import type { TraceSummary } from './traces.ts';

/** The list of recent traces: a GET form of filters above one row per trace, newest first. */
export function tracesPage(
  values: FilterValues,
  traces: readonly TraceSummary[],
  errors: readonly string[],
): SafeHtml {
  const options = ['', 'ok', 'denied', 'error'].map(
    (outcome) =>
      html`<option value="${outcome}"${outcome === values.outcome ? html` selected` : ''}>${outcome || 'any'}</option>`,
  );
  const rows = traces.map((trace) => {
    const state = trace.outcome === 'denied' && trace.step_up ? 'step-up' : trace.outcome;
    return html`<tr class="trace-row state-${state}" data-trace-id="${trace.trace_id}">
<td class="mono"><a href="${traceHref(trace.trace_id)}" title="${trace.started}">${timeText(trace.started)}</a></td>
<td class="initiators">${trace.mixed_initiators ? html`<span class="badge mixed" title="events of more than one initiator: not one person's trace">⚠ mixed initiators</span> ` : ''}${trace.users.join(', ')}</td>
<td class="mono">${trace.agents.join(', ')}</td>
<td><a class="trace-link" href="${traceHref(trace.trace_id)}"><code>${trace.first.target}</code></a> <span class="muted">${trace.first.action}</span></td>
<td class="num">${trace.events}</td>
<td>${outcomeBadge(trace.outcome, trace.step_up)}</td>
<td class="mono"><a href="${traceHref(trace.trace_id)}">${trace.trace_id.slice(0, 12)}${trace.trace_id.length > 12 ? '…' : ''}</a></td>
</tr>`;
  });
  return html`<h1>Recent traces</h1>
<form class="filters" method="get" action="/" role="search">
<label>User (initiator sub)<input name="user" value="${values.user}" autocomplete="off"></label>
<label>Agent (client id)<input name="agent" value="${values.agent}" autocomplete="off"></label>
<label>Tool / target<input name="target" value="${values.target}" autocomplete="off"></label>
<label>Outcome<select name="outcome">${options}</select></label>
<label>Since (UTC)<input name="since" value="${values.since}" placeholder="2026-05-01T00:00:00Z"></label>
<label>Until (UTC)<input name="until" value="${values.until}" placeholder="2026-05-02T00:00:00Z"></label>
<label>Traces<input name="limit" value="${values.limit}" placeholder="50" inputmode="numeric"></label>
<button type="submit">Filter</button> <a href="/">Clear</a>
</form>
${errors.length > 0 ? html`<div class="errors" role="alert"><strong>Check the filters:</strong><ul>${errors.map((error) => html`<li>${error}</li>`)}</ul></div>` : ''}
${
  traces.length === 0
    ? html`<p class="empty">${errors.length > 0 ? 'Nothing was read.' : 'No traces match these filters.'}</p>`
    : html`<table class="traces">
<thead><tr><th>Started</th><th>Initiator</th><th>Agent</th><th>First tool / target</th><th>Events</th><th>Worst outcome</th><th>Trace</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}`;
}
