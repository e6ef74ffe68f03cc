import { html, type SafeHtml } from './html.ts';

/** Where the one stylesheet is served: the CSP allows styles from the console's own origin only. */
export const STYLESHEET_PATH = '/assets/console.css';

/** The document around every page: one stylesheet, no script, a link home. */
export function page(options: { title: string; consoleTitle: string; body: SafeHtml }): string {
  return `<!doctype html>\n${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} · ${options.consoleTitle}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header class="top"><a class="home" href="/">${options.consoleTitle}</a><span class="tagline">who acted for whom</span></header>
<main>
${options.body}
</main>
</body>
</html>
`.value
  }`;
}
