/**
 * @baton/demo-idp: a real OpenID provider (oidc-provider v9) for the Baton demo and test suites, plus
 * helpers that sign in the way a person with a browser would.
 */
export { AUDIT_CONSOLE_CLIENT_ID, AUDIT_READ_SCOPE, auditConsoleRegistration } from './audit-console.ts';
export {
  CLIENT_ID_METADATA_DOCUMENT_DRAFT,
  type ClientIdMetadataDocumentOptions,
} from './client-id-metadata-documents.ts';
export { type ClientMetadataDocumentHost, serveClientMetadataDocument } from './client-metadata-host.ts';
export { CookieJar } from './cookie-jar.ts';
export { OAuthFlowError } from './errors.ts';
export {
  ID_JAG_DRAFT,
  ID_JAG_TOKEN_TYPE,
  ID_JAG_TYP,
  type IdJagAuthorizationServer,
  type IdJagOptions,
} from './id-jag.ts';
export { type DemoIdp, type StartDemoIdpOptions, startDemoIdp } from './idp.ts';
export { generateSigningJwk } from './keys.ts';
export { type LoopbackTls, loopbackTls } from './loopback-tls.ts';
export { obtainUserAccessToken } from './obtain-token.ts';
export type { ResourceServerConfig } from './resources.ts';
export {
  SCRIPTED_AGENT_REDIRECT_URL,
  type ScriptedAgentEvent,
  type ScriptedAgentOptions,
  ScriptedAgentProvider,
  scriptedAgentClientMetadata,
} from './scripted-agent.ts';
export { scriptedLogin, scriptedLogout } from './scripted-login.ts';
export { SetDeliveryError, type SignalReceiver, type SignalsOptions } from './security-events.ts';
export { DEMO_AUDITOR, DEMO_USERS, type DemoUser } from './users.ts';
