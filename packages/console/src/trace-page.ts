import { outcomeBadge, timeText, traceHref } from './badges.ts';
import type { IdentityGraph } from './graph.ts';
import { renderGraphSvg } from './graph-svg.ts';
import type { Hop } from './hops.ts';
import { html, type SafeHtml } from './html.ts';
import { initiatorText, linkedTrace } from './initiators.ts';
import { isStepUp } from './outcome.ts';
import { sameScopes, scopeText } from './scopes.ts';
import type { TraceSummary } from './traces.ts';

/** One trace: who and when, the identity graph with its legend, then every event in causal order. */
export function tracePage(summary: TraceSummary, hops: readonly Hop[], graph: IdentityGraph): SafeHtml {
  const names = new Map<string, string>();
  // Only names the URL does not already say (client ids, service names) are worth a line of their own.
  for (const node of graph.nodes) {
    if (node.id.startsWith('svc:') && node.aliases.length > 0) names.set(node.id.slice(4), node.name);
  }
  // A mixed trace names the initiator on every row: no row may read as someone else's.
  const mixed = summary.mixed_initiators;
  const rows = hops.map((hop) => {
    const { event } = hop;
    const state = event.outcome === 'denied' && isStepUp(event) ? 'step-up' : event.outcome;
    const name = names.get(event.component);
    const linked = linkedTrace(event);
    return html`<tr class="hop-row state-${state}" id="hop-${hop.n}" data-outcome="${event.outcome}" data-initiator="${event.initiator.sub}">
<td class="num">${hop.n}</td>
<td class="num">${hop.parent ? html`<a href="#hop-${hop.parent.n}">${hop.parent.n}</a>` : '—'}</td>
<td class="mono" title="${event.time}">${event.time.slice(11).replace(/Z$/, '')}</td>
${
  mixed
    ? html`<td class="initiator">${initiatorText(event.initiator)}</td>
`
    : ''
}<td class="indent-${Math.min(hop.depth, 4)}">${name && name !== event.component ? html`<strong>${name}</strong><br>` : ''}<code>${event.component}</code></td>
<td><code>${event.action}</code></td>
<td><code>${event.target.name}</code>${event.revocation ? html`<br><span class="muted revocation">${revocationText(event.revocation)}</span>` : ''}${event.platform_subject ? html`<br><span class="muted platform-subject">as platform user <code>${event.platform_subject}</code></span>` : ''}</td>
<td><code>${event.delegation_mode}</code></td>
<td><code>${scopeText(event.scopes)}</code>${event.scopes_requested && !sameScopes(event.scopes_requested, event.scopes) ? html`<br><span class="muted">asked <code>${event.scopes_requested.join(' ')}</code></span>` : ''}</td>
<td>${outcomeBadge(event.outcome, isStepUp(event))}</td>
<td>${event.reason ? html`<code>${event.reason}</code>` : ''}${linked ? html`${event.reason ? html`<br>` : ''}<span class="muted linked-trace">caller's trace, linked not joined: <a href="${traceHref(linked.trace_id)}"><code>${linked.trace_id}</code></a></span>` : ''}</td>
<td class="mono">${(event.chain ?? []).map((actor, index) => html`${index > 0 ? ' ← ' : ''}<span class="actor">${actor}</span>`)}</td>
</tr>`;
  });
  const description = graphDescription(graph);
  const initiators = summary.initiators.map(initiatorText).join(', ');
  return html`<p><a href="/">← all traces</a></p>
<h1>Trace <code>${summary.trace_id}</code></h1>
${mixed ? html`<div class="warning mixed-initiators" role="alert"><strong>⚠ Mixed initiators: this is not one person's trace.</strong> Its events were recorded for more than one initiator (${initiators}). A caller may have sent another person's trace id, or a service acted for several people. Read each event's initiator in the table below.</div>` : ''}
<dl class="meta">
${mixed ? html`<dt>Initiators</dt><dd class="initiators">${initiators} <span class="badge mixed">⚠ mixed</span></dd>` : html`<dt>User</dt><dd class="initiators">${initiators}</dd>`}
<dt>Agent</dt><dd class="mono">${summary.agents.join(', ')}</dd>
<dt>Time</dt><dd class="mono">${timeText(summary.started)} → ${timeText(summary.ended).slice(11)}</dd>
<dt>Events</dt><dd>${summary.events}${summary.denied > 0 ? `, ${summary.denied} denied` : ''}${summary.errors > 0 ? `, ${summary.errors} failed` : ''}</dd>
<dt>Outcome</dt><dd>${outcomeBadge(summary.outcome, summary.step_up)}</dd>
</dl>
<h2>Identity chain</h2>
${legend()}
<div class="graph-frame">${renderGraphSvg(graph, description)}</div>
<h2>Events</h2>
<div class="table-frame"><table class="hops">
<thead><tr><th>#</th><th>Caused by</th><th>Time (UTC)</th>${mixed ? html`<th>Initiator</th>` : ''}<th>Component</th><th>Action</th><th>Target</th><th>Mode</th><th>Scopes</th><th>Outcome</th><th>Reason</th><th>Chain (current ← agent)</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

/** The graph's key: every colour is paired with a line style and the words the labels use. */
function legend(): SafeHtml {
  const entry = (sampleClass: string, text: string) =>
    html`<li><svg viewBox="0 0 40 10" aria-hidden="true"><line class="sample ${sampleClass}" x1="0" y1="5" x2="40" y2="5"/></svg>${text}</li>`;
  return html`<ul class="legend" aria-label="Legend">
${entry('delegation', 'delegates: the person to the agent acting for them (dotted blue)')}
${entry('state-ok', 'call, ok (solid grey); label: #hop action target, mode · scopes')}
${entry('state-denied', '✕ DENIED (red, dashed)')}
${entry('state-step-up', '⤴ DENIED, STEP-UP NEEDED: scope_insufficient (purple, dashed)')}
${entry('state-error', '! ERROR (orange, dotted)')}
</ul>`;
}

/** A sentence per edge, for screen readers (the SVG's `<desc>`). */
function graphDescription(graph: IdentityGraph): string {
  const name = (id: string) => graph.nodes.find((node) => node.id === id)?.name ?? id;
  return graph.edges
    .map((edge) => {
      const hops = edge.hops
        .map((hop) => `${hop.action} ${hop.target} (${hop.mode}, ${hop.outcome})`)
        .join('; ');
      return `${name(edge.from)} to ${name(edge.to)}${hops ? `: ${hops}` : ': delegates'}.`;
    })
    .join(' ');
}

/** What a revocation event adds to its target: how many tokens it covered, its cut-off, the revoker's words. */
function revocationText(revocation: NonNullable<Hop['event']['revocation']>): string {
  return [
    revocation.covered !== undefined ? `covered ${revocation.covered}` : undefined,
    revocation.before !== undefined
      ? `before ${new Date(revocation.before * 1000).toISOString()}`
      : undefined,
    revocation.kind === 'subject' && revocation.before === undefined && revocation.covered !== undefined
      ? 'disabled'
      : undefined,
    revocation.note !== undefined ? `“${revocation.note}”` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
}
