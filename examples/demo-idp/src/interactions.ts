import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { applyGrantPlan, planGrant } from './grant-plan.ts';
import { consentPage, errorPage, loginPage } from './html.ts';
import type { UserDirectory } from './users.ts';

/**
 * The IdP's own login and consent screens (oidc-provider leaves interactions to the host application).
 *
 *   GET  /interaction/:uid          shows the current prompt: the login form or the consent form
 *   POST /interaction/:uid/login    checks username and password, then resumes the authorization
 *   POST /interaction/:uid/confirm  records the grant (scopes filtered per user), then resumes
 *   POST /interaction/:uid/abort    resumes with `access_denied`
 *
 * This follows oidc-provider v9's interaction contract (`interactionDetails` / `interactionFinished`);
 * the interaction is found through its cookie, so the `:uid` in the path is only checked against it.
 */
export type InteractionHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const ROUTE = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/;
const MAX_FORM_BYTES = 16 * 1024;

/** Parses an interaction path; `undefined` means the request belongs to oidc-provider itself. */
export function matchInteraction(pathname: string): { uid: string; action: string | undefined } | undefined {
  const match = ROUTE.exec(pathname);
  return match?.[1] ? { uid: match[1], action: match[2] } : undefined;
}

export function createInteractionHandler(
  provider: Provider,
  users: UserDirectory,
  onError: (error: unknown) => void,
): InteractionHandler {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = matchInteraction(new URL(req.url ?? '/', 'http://idp').pathname);
    if (!route) return sendHtml(res, 404, errorPage('not_found'));
    const expectedMethod = route.action ? 'POST' : 'GET';
    if (req.method !== expectedMethod) {
      res.setHeader('Allow', expectedMethod);
      return sendHtml(res, 405, errorPage('method_not_allowed'));
    }

    const details = await provider.interactionDetails(req, res);
    if (details.uid !== route.uid)
      return sendHtml(res, 400, errorPage('invalid_request', 'interaction mismatch'));
    const clientId = String(details.params.client_id);
    const client = await provider.Client.find(clientId);
    const clientName = client?.clientName ?? clientId;
    const prompt = details.prompt.name;

    if (route.action === 'abort') {
      const result = { error: 'access_denied', error_description: 'End-User denied the request' };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }

    if (prompt === 'login') {
      if (route.action === undefined) return sendHtml(res, 200, loginPage(route.uid, { clientName }));
      if (route.action !== 'login') return sendHtml(res, 400, errorPage('invalid_request', 'sign in first'));
      const form = await readForm(req);
      const username = form.get('username') ?? '';
      const user = users.authenticate(username, form.get('password') ?? '');
      if (!user) {
        const view = { clientName, username, error: 'Invalid username or password.' };
        return sendHtml(res, 401, loginPage(route.uid, view));
      }
      const result = { login: { accountId: user.sub } };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }

    if (prompt === 'consent') {
      const accountId = details.session?.accountId;
      const user = accountId ? users.findBySub(accountId) : undefined;
      if (!user) return sendHtml(res, 400, errorPage('login_required', 'no signed-in user'));
      const plan = planGrant(details.prompt.details, user);
      if (route.action === undefined) {
        // MCP 2026-07-28 (Client ID Metadata Document security): the redirect URI's host is shown, and
        // a document client is named by its URL, since its name is whatever its document says.
        const view = {
          clientName,
          username: user.username,
          plan,
          redirectUri: String(details.params.redirect_uri ?? ''),
          ...(isMetadataDocumentClient(client) ? { metadataDocument: clientId } : {}),
        };
        return sendHtml(res, 200, consentPage(route.uid, view));
      }
      if (route.action !== 'confirm')
        return sendHtml(res, 400, errorPage('invalid_request', 'unexpected step'));
      const grant =
        (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
        new provider.Grant({ accountId: user.sub, clientId });
      applyGrantPlan(grant, plan);
      const grantId = await grant.save();
      const result = { consent: details.grantId ? {} : { grantId } };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    }

    return sendHtml(res, 400, errorPage('invalid_request', `unsupported prompt ${prompt}`));
  }

  return async (req, res) => {
    try {
      await handle(req, res);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Expected failures (expired interaction, missing cookie) are the user's problem, shown on the page;
      // anything else is the host's, reported through onError.
      if (error instanceof errors.OIDCProviderError) {
        return sendHtml(res, error.statusCode, errorPage(error.error, error.error_description));
      }
      onError(error);
      sendHtml(res, 500, errorPage('server_error'));
    }
  };
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) throw new errors.InvalidRequest('form too large');
  }
  return new URLSearchParams(body);
}

/** Whether oidc-provider resolved this client from a Client ID Metadata Document (it marks such clients). */
function isMetadataDocumentClient(client: unknown): boolean {
  return (client as { clientIdMetadataDocument?: unknown } | undefined)?.clientIdMetadataDocument === true;
}
