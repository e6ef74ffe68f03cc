/**
 * The console's stylesheet, served from its own path so the CSP can forbid inline styles. Colour is
 * never the only signal: each state also has a line style and words (see the legend).
 */
export const STYLESHEET = `
:root { --ok: #51606f; --denied: #c62828; --error: #b85c00; --step-up: #6a1b9a; --ink: #1d2630; --muted: #5b6672; --line: #d5dbe1; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fff; }
.top { display: flex; gap: 12px; align-items: baseline; padding: 10px 20px; background: #17212b; color: #fff; }
.top .home { color: #fff; font-weight: 600; text-decoration: none; font-size: 16px; }
.top .tagline { color: #b8c4cf; }
.top .account { margin-left: auto; color: #d7e0e8; }
.top .account a { color: #fff; }
.top .account form.sign-out { display: inline; margin: 0; }
.top .account form.sign-out button { font: inherit; color: #fff; background: none; border: 0; padding: 0; text-decoration: underline; cursor: pointer; }
.warning { border: 2px solid var(--denied); background: #fdecea; padding: 8px 12px; border-radius: 6px; margin: 8px 0 12px; }
.notice { border: 1px solid var(--line); background: var(--bg); padding: 8px 12px; border-radius: 6px; margin: 8px 0 12px; }
.badge.mixed { color: var(--denied); background: #fdecea; }
main { padding: 16px 20px 40px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
a { color: #0b57d0; }
.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: flex-end; padding: 12px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
.filters input, .filters select { font: inherit; padding: 4px 6px; border: 1px solid #b7c0c9; border-radius: 4px; min-width: 9em; }
.filters button { font: inherit; padding: 5px 14px; border-radius: 4px; border: 1px solid #0b57d0; background: #0b57d0; color: #fff; cursor: pointer; }
.errors { color: var(--denied); border: 1px solid var(--denied); background: #fdecea; padding: 8px 12px; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; margin-top: 12px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg); }
td.num { text-align: right; }
.actor { white-space: nowrap; }
.table-frame { overflow-x: auto; }
.muted { color: var(--muted); }
.empty { color: var(--muted); padding: 16px 0; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.badge.state-ok { color: var(--ok); }
.badge.state-denied { color: var(--denied); background: #fdecea; }
.badge.state-step-up { color: var(--step-up); background: #f3e8f8; }
.badge.state-error { color: var(--error); background: #fff3e0; }
tr.state-denied td:first-child { box-shadow: inset 4px 0 var(--denied); }
tr.state-step-up td:first-child { box-shadow: inset 4px 0 var(--step-up); }
tr.state-error td:first-child { box-shadow: inset 4px 0 var(--error); }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0 0 12px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; list-style: none; padding: 0; margin: 8px 0; font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { width: 40px; height: 10px; }
.graph-frame { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fbfcfd; padding: 4px; }
.identity-graph { display: block; margin: 0 auto; font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; }
.node-box { fill: #fff; stroke: #8a96a3; stroke-width: 1.5; }
.node-user .node-box { fill: #e8f1fd; stroke: #0b57d0; }
.node-agent .node-box { fill: #eef7ee; stroke: #2e7d32; }
.node-broker .node-box { fill: #fff8e1; stroke: #a07800; }
.node-mcp .node-box { fill: #f3f0fb; stroke: #5e35b1; }
.node-api .node-box, .node-service .node-box { fill: #f1f4f7; stroke: #51606f; }
.node.state-denied .node-box { stroke: var(--denied); stroke-width: 3; stroke-dasharray: 7 4; }
.node.state-step-up .node-box { stroke: var(--step-up); stroke-width: 3; stroke-dasharray: 7 4; }
.node.state-error .node-box { stroke: var(--error); stroke-width: 3; stroke-dasharray: 2 3; }
.node-kind { font-size: 10px; fill: var(--muted); letter-spacing: 0.06em; }
.node-name { font-size: 12px; font-weight: 700; fill: var(--ink); }
.node-detail { font-size: 11px; fill: var(--muted); }
.edge-line { fill: none; stroke: var(--ok); stroke-width: 1.6; }
.edge-delegation .edge-line { stroke: #0b57d0; stroke-dasharray: 1 4; stroke-linecap: round; stroke-width: 2.2; }
.edge.state-denied .edge-line { stroke: var(--denied); stroke-width: 3; stroke-dasharray: 8 5; }
.edge.state-step-up .edge-line { stroke: var(--step-up); stroke-width: 3; stroke-dasharray: 8 5; }
.edge.state-error .edge-line { stroke: var(--error); stroke-width: 3; stroke-dasharray: 2 4; }
.arrow.state-ok path { fill: var(--ok); }
.arrow.state-denied path { fill: var(--denied); }
.arrow.state-step-up path { fill: var(--step-up); }
.arrow.state-error path { fill: var(--error); }
.edge-label-box { fill: #fff; stroke: var(--line); }
.edge-label.state-denied .edge-label-box { stroke: var(--denied); fill: #fdecea; stroke-width: 1.5; }
.edge-label.state-step-up .edge-label-box { stroke: var(--step-up); fill: #f7effb; stroke-width: 1.5; }
.edge-label.state-error .edge-label-box { stroke: var(--error); fill: #fff3e0; stroke-width: 1.5; }
.hop-head { font-size: 11px; font-weight: 700; fill: var(--ink); }
.hop-detail { font-size: 11px; fill: var(--muted); }
.status { font-size: 11px; font-weight: 700; fill: var(--denied); }
.state-step-up .status { fill: var(--step-up); }
.state-error .status { fill: var(--error); }
.legend .sample { fill: none; stroke-width: 3; }
.legend .sample.state-ok { stroke: var(--ok); stroke-width: 1.6; }
.legend .sample.state-denied { stroke: var(--denied); stroke-dasharray: 8 5; }
.legend .sample.state-step-up { stroke: var(--step-up); stroke-dasharray: 8 5; }
.legend .sample.state-error { stroke: var(--error); stroke-dasharray: 2 4; }
.legend .sample.delegation { stroke: #0b57d0; stroke-dasharray: 1 4; stroke-linecap: round; stroke-width: 2.2; }
.indent-1 { padding-left: 14px; } .indent-2 { padding-left: 28px; } .indent-3 { padding-left: 42px; } .indent-4 { padding-left: 56px; }
`;
