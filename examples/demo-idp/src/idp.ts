import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_TYPES, type EventType, type SubjectIdentifier } from '@baton/shared-signals';
import { createLocalJWKSet, type JWK as JoseJwk } from 'jose';
import type { ClientMetadata, JWK } from 'oidc-provider';
import Provider from 'oidc-provider';
import {
  type ClientIdMetadataDocumentFeature,
  type ClientIdMetadataDocumentOptions,
  clientIdMetadataDocumentFeature,
} from './client-id-metadata-documents.ts';
import { buildConfiguration } from './configuration.ts';
import { type IdJagOptions, registerIdJagGrant } from './id-jag.ts';
import { createInteractionHandler, matchInteraction } from './interactions.ts';
import { restoreIntrospectedSid } from './introspection-sid.ts';
import { jwtRevocation } from './jwt-revocation.ts';
import { generateSigningJwk } from './keys.ts';
import type { ResourceServerConfig } from './resources.ts';
import { type SignalsOptions, SignalTransmitter } from './security-events.ts';
import { createUserDirectory, DEMO_AUDITOR, DEMO_USERS, type DemoUser } from './users.ts';

export interface StartDemoIdpOptions {
  /** Interface to bind; defaults to `127.0.0.1`. */
  host?: string;
  /** Host name in the issuer, what clients reach the IdP by (when `host` is `0.0.0.0`); defaults to `host`. */
  publicHost?: string;
  /** Port to bind; defaults to 0, an ephemeral port (read the real one from `DemoIdp.url`). */
  port?: number;
  /** The protected resources (RFC 8707 resource indicators) this IdP issues tokens for. */
  resources: ResourceServerConfig[];
  /** Statically registered clients, e.g. a resource server's confidential client used for introspection. */
  clients?: Array<Record<string, unknown>>;
  /** Who can sign in; defaults to alice, bob and the auditor erin. */
  users?: DemoUser[];
  /**
   * The IdP's ES256 private signing key (a JWK with `d`, `kid`, `alg`). Default: a fresh key per start.
   * Tests pass their own so they can sign tokens that are valid in every way but one.
   */
  signingJwk?: JWK;
  /** Receives unexpected server-side errors. The IdP never prints; without this they are dropped. */
  onError?: (error: unknown) => void;
  /**
   * Shared Signals transmitter: pushes (RFC 8935) CAEP `session-revoked` when a person signs out and RISC
   * `account-disabled` / `account-enabled` from `disableUser` / `enableUser`, one event per SET signed
   * with the IdP's key; and RFC 7009 revocation of its JWT access tokens, sent as Baton `tokens-revoked`
   * (without signals the IdP answers `unsupported_token_type` for them, as oidc-provider does). A SET a
   * receiver never took is reported to `onError`. Off by default.
   */
  signals?: SignalsOptions;
  /**
   * Accept clients identified by a Client ID Metadata Document (draft-02, oidc-provider's feature):
   * a `client_id` that is an https URL on one of `allowedHosts` is fetched (trusting `ca`) and its
   * document describes the client; the IdP advertises `client_id_metadata_document_supported`. Off by
   * default: clients then register with RFC 7591, the fallback MCP 2026-07-28 keeps.
   */
  clientIdMetadataDocuments?: ClientIdMetadataDocumentOptions;
  /** Issue ID-JAGs by token exchange (enterprise-managed authorization, see `IdJagOptions`). Off by default. */
  idJag?: IdJagOptions;
}

export interface DemoIdp {
  /** `http://<host>:<port>`, exactly as it appears in the `iss` claim. */
  issuer: string;
  url: URL;
  jwksUri: string;
  /**
   * Disables a user (an administrator's action): they can no longer sign in, consent, or have a token
   * minted or refreshed, and receivers are sent RISC `account-disabled`. Throws `TypeError` for an
   * unknown `sub`; disabling a disabled user sends nothing.
   */
  disableUser(sub: string): Promise<void>;
  /** Enables a disabled user again and sends RISC `account-enabled`. */
  enableUser(sub: string): Promise<void>;
  /** Resolves once every Security Event Token sent so far was delivered or given up. */
  signalsDelivered(): Promise<void>;
  close(): Promise<void>;
}

const DISCOVERY_PATH = '/.well-known/openid-configuration';
/** RFC 8414 metadata location; served with the same document as OpenID discovery. */
const OAUTH_METADATA_PATH = '/.well-known/oauth-authorization-server';

/**
 * Starts a real OpenID provider (oidc-provider v9) on its own HTTP server. The server is bound before the
 * Provider exists because the issuer must contain the port, which is only known once an ephemeral port
 * has been assigned; requests are routed only after that.
 */
export async function startDemoIdp(options: StartDemoIdpOptions): Promise<DemoIdp> {
  const host = options.host ?? '127.0.0.1';
  const onError = options.onError ?? (() => {});
  const server = createServer();
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const shown = options.publicHost ?? host;
  const url = new URL(`http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`);
  const issuer = url.origin;

  const users = createUserDirectory(options.users ?? [...Object.values(DEMO_USERS), DEMO_AUDITOR]);
  const signingJwk = options.signingJwk ?? (await generateSigningJwk());
  let provider: Provider;
  let transmitter: SignalTransmitter | undefined;
  let metadataDocuments: ClientIdMetadataDocumentFeature | undefined;
  try {
    metadataDocuments = options.clientIdMetadataDocuments
      ? clientIdMetadataDocumentFeature(options.clientIdMetadataDocuments)
      : undefined;
    const configuration = buildConfiguration({
      resources: options.resources,
      clients: (options.clients ?? []) as unknown as ClientMetadata[],
      users,
      signingJwk,
      cookieKeys: [randomBytes(32).toString('base64url')],
      clientIdMetadataDocuments: metadataDocuments,
      selfDescribedTokenExchange: (clientId) =>
        options.idJag?.authorizationServers().some((server) => server.clients?.includes(clientId)) ?? false,
    });
    provider = new Provider(issuer, configuration);
    if (options.idJag) registerIdJagGrant(provider, { issuer, signingJwk, users, options: options.idJag });
    if (options.signals) {
      transmitter = new SignalTransmitter({
        ...options.signals,
        issuer,
        signingJwk: signingJwk as JoseJwk,
        onError,
      });
    }
  } catch (error) {
    // A refused configuration (say, a machine client with no approved scope) must not leave the port bound.
    await metadataDocuments?.close();
    await close(server);
    throw error;
  }
  // oidc-provider reports its 500s as `server_error`; Koa (its base class) prints any other uncaught error
  // unless an `error` listener exists, an event the oidc-provider typings do not list.
  provider.on('server_error', (_ctx, error) => onError(error));
  (provider as EventEmitter).on('error', (error: unknown) => onError(error));

  provider.use(restoreIntrospectedSid);

  const now = () => Math.floor(Date.now() / 1000);
  const person = (sub: string): SubjectIdentifier => ({ format: 'iss_sub', iss: issuer, sub });
  // RP-initiated logout that ends the sign-in session (`logout=yes` at the end-session confirmation) is
  // the only place oidc-provider destroys a session: CAEP session-revoked for that session. Its `id` is
  // the session uid the access tokens carry as `sid`.
  (provider as EventEmitter).on('session.destroyed', (session: { uid?: string; accountId?: string }) => {
    if (!transmitter || !session.uid || !session.accountId) return;
    transmitter.emit({
      type: EVENT_TYPES.sessionRevoked,
      subject: {
        format: 'complex',
        user: person(session.accountId),
        session: { format: 'opaque', id: session.uid },
      },
      payload: { event_timestamp: now(), initiating_entity: 'user' },
    });
  });
  if (transmitter) {
    const signals = transmitter;
    const { d: _private, ...publicJwk } = signingJwk as JoseJwk;
    const keys = createLocalJWKSet({ keys: [publicJwk] });
    provider.use(jwtRevocation({ issuer, keys, emit: (event) => signals.emit(event) }));
  }
  const accountEvent = (type: EventType, sub: string, reason: string) =>
    transmitter?.emit({
      type,
      subject: person(sub),
      payload: { event_timestamp: now(), initiating_entity: 'admin', reason_admin: { en: reason } },
    });

  const providerCallback = provider.callback();
  const handleInteraction = createInteractionHandler(provider, users, onError);
  server.on('request', (req, res) => {
    // A request target that does not parse is left to oidc-provider, which answers it with an error.
    const pathname = URL.parse(req.url ?? '/', issuer)?.pathname ?? '';
    if (matchInteraction(pathname)) {
      void handleInteraction(req, res);
      return;
    }
    if (pathname === OAUTH_METADATA_PATH) req.url = DISCOVERY_PATH;
    void providerCallback(req, res);
  });

  return {
    issuer,
    url,
    jwksUri: new URL('/jwks', issuer).href,
    async disableUser(sub) {
      if (!users.has(sub)) throw new TypeError(`demo IdP: no user ${sub}`);
      if (users.disable(sub)) {
        accountEvent(EVENT_TYPES.accountDisabled, sub, 'disabled at the demo identity provider');
      }
    },
    async enableUser(sub) {
      if (!users.has(sub)) throw new TypeError(`demo IdP: no user ${sub}`);
      if (users.enable(sub)) {
        accountEvent(EVENT_TYPES.accountEnabled, sub, 'enabled at the demo identity provider');
      }
    },
    signalsDelivered: async () => transmitter?.idle(),
    async close() {
      transmitter?.close();
      await metadataDocuments?.close();
      await close(server);
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes the server including idle keep-alive sockets, which `fetch` leaves open and would hold exit. */
function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
