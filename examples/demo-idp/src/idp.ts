import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata, JWK } from 'oidc-provider';
import Provider from 'oidc-provider';
import { buildConfiguration } from './configuration.ts';
import { createInteractionHandler, matchInteraction } from './interactions.ts';
import { restoreIntrospectedSid } from './introspection-sid.ts';
import { generateSigningJwk } from './keys.ts';
import type { ResourceServerConfig } from './resources.ts';
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
}

export interface DemoIdp {
  /** `http://<host>:<port>`, exactly as it appears in the `iss` claim. */
  issuer: string;
  url: URL;
  jwksUri: string;
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
  let provider: Provider;
  try {
    const configuration = buildConfiguration({
      resources: options.resources,
      clients: (options.clients ?? []) as unknown as ClientMetadata[],
      users,
      signingJwk: options.signingJwk ?? (await generateSigningJwk()),
      cookieKeys: [randomBytes(32).toString('base64url')],
    });
    provider = new Provider(issuer, configuration);
  } catch (error) {
    // A refused configuration (say, a machine client with no approved scope) must not leave the port bound.
    await close(server);
    throw error;
  }
  // oidc-provider reports its 500s as `server_error`; Koa (its base class) prints any other uncaught error
  // unless an `error` listener exists, an event the oidc-provider typings do not list.
  provider.on('server_error', (_ctx, error) => onError(error));
  (provider as EventEmitter).on('error', (error: unknown) => onError(error));

  provider.use(restoreIntrospectedSid);

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
    close: () => close(server),
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
