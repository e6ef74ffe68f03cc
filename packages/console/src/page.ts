import { html, type SafeHtml } from './html.ts';
import type { TenantScope } from './tenant-scope.ts';

/** Where the one stylesheet is served: the CSP allows styles from the console's own origin only. */
export const STYLESHEET_PATH = '/assets/console.css';

/** Who the page is shown to, for the header bar. */
export interface Account {
  sub: string;
  scope: TenantScope;
  /** Where the sign-out form posts; absent when the console has no sign-in. */
  signOutPath?: string;
}

/** The document around every page: one stylesheet, no script, a link home, who is signed in. */
export function page(options: {
  title: string;
  consoleTitle: string;
  body: SafeHtml;
  account?: Account;
  /** A same-origin path to move on to (a meta refresh: the CSP allows no script). */
  refreshTo?: string;
}): string {
  const { account } = options;
  const who = account
    ? html`<span class="account">${account.signOutPath ? html`signed in as <strong>${account.sub}</strong> · ` : ''}${account.scope.kind === 'tenant' ? html`tenant <strong>${account.scope.tenant}</strong>` : 'all tenants'}${account.signOutPath ? html` · <form class="sign-out" method="post" action="${account.signOutPath}"><button type="submit">Sign out</button></form>` : ''}</span>`
    : '';
  return `<!doctype html>\n${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
${options.refreshTo ? html`<meta http-equiv="refresh" content="0;url=${options.refreshTo}">\n` : ''}<title>${options.title} · ${options.consoleTitle}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header class="top"><a class="home" href="/">${options.consoleTitle}</a><span class="tagline">who acted for whom</span>${who}</header>
<main>
${options.body}
</main>
</body>
</html>
`.value
  }`;
}
