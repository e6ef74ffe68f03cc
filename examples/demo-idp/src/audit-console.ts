import type { ResourceServerConfig } from './resources.ts';

/** The audit console's client id at the demo IdP. */
export const AUDIT_CONSOLE_CLIENT_ID = 'baton-audit-console';
/** The permission to read the audit trail: granted only to users whose `allowedScopes` list it. */
export const AUDIT_READ_SCOPE = 'audit:read';

/**
 * What the demo IdP needs to know about an audit console at `consoleUrl`: a confidential client with
 * its one redirect URI, and the console as a resource (RFC 8707) whose only scopes are the audit
 * permissions, so its access tokens carry `audit:read` only for users allowed it. Pass `client` in
 * `clients` and `resource` in `resources` of `startDemoIdp`.
 *
 * @example
 * const console = auditConsoleRegistration({ consoleUrl: 'http://127.0.0.1:4020/', clientSecret });
 * await startDemoIdp({ resources: [...resources, console.resource], clients: [console.client] });
 */
export function auditConsoleRegistration(options: {
  consoleUrl: string;
  clientSecret: string;
  /** Default `/auth/callback`. */
  callbackPath?: string;
  /** Default `[audit:read]`; a test may add an all-tenants scope. */
  scopes?: string[];
}): { client: Record<string, unknown>; resource: ResourceServerConfig; redirectUri: string } {
  const origin = new URL(options.consoleUrl).origin;
  const redirectUri = new URL(options.callbackPath ?? '/auth/callback', origin).href;
  return {
    client: {
      client_id: AUDIT_CONSOLE_CLIENT_ID,
      client_secret: options.clientSecret,
      client_name: 'Baton audit console',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    resource: { resource: `${origin}/`, scopes: options.scopes ?? [AUDIT_READ_SCOPE] },
    redirectUri,
  };
}
