import { randomBytes } from 'node:crypto';
import type { AuditReader, AuditSink } from '@baton/audit';
import { type RunningConsole, startConsole } from '@baton/console';
import { AUDIT_CONSOLE_CLIENT_ID, AUDIT_READ_SCOPE, auditConsoleRegistration } from '@baton/demo-idp';
import type { Logger } from 'pino';
import { listen } from './listen.ts';

/** The audit console before the IdP exists: bound, so its redirect URI can be registered there. */
export interface PreparedAuditConsole {
  /** For `startTopology`'s `idp` option: the console's client and resource at the demo IdP. */
  idp: { clients: Array<Record<string, unknown>>; resources: Array<{ resource: string; scopes: string[] }> };
  /** Serves the console, signing in at `issuer`. */
  start(options: {
    issuer: string;
    reader: AuditReader;
    audit: AuditSink;
    logger: Logger;
  }): Promise<RunningConsole>;
}

/**
 * Binds the demo's audit console and registers it at the demo IdP as a confidential client (a secret
 * made for this run) whose access tokens carry `audit:read` only for the auditor.
 */
export async function prepareAuditConsole(
  host: string,
  port: number,
  publicHost = host,
): Promise<PreparedAuditConsole> {
  const bound = await listen(host, port, '', publicHost);
  const clientSecret = randomBytes(32).toString('base64url');
  const registration = auditConsoleRegistration({ consoleUrl: bound.url, clientSecret });
  return {
    idp: { clients: [registration.client], resources: [registration.resource] },
    start: ({ issuer, reader, audit, logger }) =>
      startConsole({
        server: bound.http,
        publicHost,
        reader,
        audit,
        logger,
        auth: {
          issuer,
          clientId: AUDIT_CONSOLE_CLIENT_ID,
          clientSecret,
          redirectUri: registration.redirectUri,
          permission: AUDIT_READ_SCOPE,
          // Every demo component speaks plain HTTP; bound beyond loopback, so does the console.
          allowInsecureHttp: true,
        },
      }),
  };
}
