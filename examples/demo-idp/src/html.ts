import type { GrantPlan } from './grant-plan.ts';

/**
 * Server-rendered pages of the demo IdP. They are deliberately plain: a person can sign in with a browser,
 * and `scriptedLogin` can find the forms by their `data-step` attribute. Every interpolated value goes
 * through {@link escapeHtml}, because client names and usernames are chosen by strangers.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>`;
}

export function loginPage(
  uid: string,
  view: { clientName: string; username?: string; error?: string },
): string {
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : '';
  return page(
    'Sign in to Baton demo IdP',
    `<p>${escapeHtml(view.clientName)} wants you to sign in.</p>
${error}<form method="post" action="/interaction/${escapeHtml(uid)}/login" data-step="login">
<label>Username <input name="username" autocomplete="username" required autofocus value="${escapeHtml(view.username ?? '')}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>`,
  );
}

/** Hostnames that reach the person's own machine: any program on it could receive such a redirect. */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function consentPage(
  uid: string,
  view: {
    clientName: string;
    username: string;
    plan: GrantPlan;
    /** Where the answer goes: its host is shown (MCP 2026-07-28, metadata document security). */
    redirectUri: string;
    /** The client's Client ID Metadata Document URL, when that is how it identified itself. */
    metadataDocument?: string;
  },
): string {
  const rows = view.plan.resources.map(
    ({ resource, granted, rejected }) =>
      `<li><code>${escapeHtml(resource)}</code>: ${escapeHtml(granted.join(', ') || 'nothing')}${
        rejected.length > 0
          ? ` <span class="error">(not permitted for you: ${escapeHtml(rejected.join(', '))})</span>`
          : ''
      }</li>`,
  );
  const identity =
    view.plan.oidcScopes.length > 0
      ? `<li>identity: ${escapeHtml(view.plan.oidcScopes.join(', '))}</li>`
      : '';
  const redirectHost = URL.parse(view.redirectUri)?.host ?? view.redirectUri;
  const loopback = LOOPBACK.has(URL.parse(view.redirectUri)?.hostname ?? '');
  const document = view.metadataDocument
    ? `<p data-client-id-metadata-document>Identified by its metadata document at <code>${escapeHtml(view.metadataDocument)}</code> (host <strong>${escapeHtml(URL.parse(view.metadataDocument)?.host ?? '')}</strong>); its name is what that document says.</p>`
    : '';
  const warning = loopback
    ? '<p class="error" data-localhost-warning>The answer goes to a program on your own computer: any program there could use this address. Allow only if you started this application.</p>'
    : '';
  return page(
    'Allow access?',
    `<p>Signed in as <strong>${escapeHtml(view.username)}</strong>. <strong>${escapeHtml(view.clientName)}</strong> asks for:</p>
<ul>${identity}${rows.join('')}</ul>
${document}<p data-redirect-host>The answer is sent to <strong>${escapeHtml(redirectHost)}</strong>.</p>
${warning}
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm" data-step="consent"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort" data-step="abort"><button type="submit">Deny</button></form>`,
  );
}

/** Error page with machine-readable markers, so `scriptedLogin` can report the OAuth error code. */
export function errorPage(error: string, description?: string): string {
  return page(
    'Something went wrong',
    `<p>Error: <code data-error>${escapeHtml(error)}</code></p>
${description ? `<p data-error-description>${escapeHtml(description)}</p>` : ''}`,
  );
}

/** Minimal stand-ins for oidc-provider's logout pages (its defaults load web fonts and print notices). */
export function logoutPage(form: string): string {
  return page(
    'Sign out?',
    `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`,
  );
}

export function loggedOutPage(): string {
  return page('Signed out', '<p>You are signed out of the Baton demo IdP.</p>');
}
