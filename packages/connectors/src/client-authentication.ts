import { type AssertionKey, assertionSigner } from './signing-key.ts';

/**
 * How the connector authenticates itself at the platform's token endpoint (RFC 6749 §2.3, RFC 7523 §2.2).
 * `none` only identifies the client (`client_id`); the JWT bearer grant's signed assertion is then the
 * proof, as with Salesforce connected apps.
 */
export type ClientAuthentication =
  | { method: 'none' }
  | { method: 'client_secret_post'; clientSecret: string }
  | { method: 'client_secret_basic'; clientSecret: string }
  | {
      method: 'private_key_jwt';
      privateKey: AssertionKey;
      keyId?: string;
      /** The client assertion's `aud`. Default: the token endpoint (what Entra expects). */
      audience?: string;
    };

/** Body parameters and headers that authenticate one token request. */
export interface AuthenticationParts {
  body: Record<string, string>;
  headers: Record<string, string>;
}

export type Authenticator = (nowSeconds: number) => Promise<AuthenticationParts>;

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A client assertion is used once, right away: a minute covers clock skew and nothing more. */
const CLIENT_ASSERTION_LIFETIME_SECONDS = 60;

/** Prepares the authentication once (key checks included) and returns what each request adds. */
export function clientAuthenticator(
  clientId: string,
  tokenEndpoint: string,
  authentication: ClientAuthentication,
): Authenticator {
  switch (authentication.method) {
    case 'none':
      return async () => ({ body: { client_id: clientId }, headers: {} });
    case 'client_secret_post': {
      const { clientSecret } = requireSecret(authentication);
      return async () => ({ body: { client_id: clientId, client_secret: clientSecret }, headers: {} });
    }
    case 'client_secret_basic': {
      const { clientSecret } = requireSecret(authentication);
      // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined and base64-encoded.
      const credentials = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
      const authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
      return async () => ({ body: {}, headers: { authorization } });
    }
    case 'private_key_jwt': {
      const signer = assertionSigner(authentication.privateKey, { keyId: authentication.keyId });
      const audience = authentication.audience ?? tokenEndpoint;
      return async (nowSeconds) => ({
        body: {
          client_id: clientId,
          client_assertion_type: CLIENT_ASSERTION_TYPE,
          client_assertion: await signer.sign(
            {
              iss: clientId,
              sub: clientId,
              aud: audience,
              lifetimeSeconds: CLIENT_ASSERTION_LIFETIME_SECONDS,
            },
            nowSeconds,
          ),
        },
        headers: {},
      });
    }
    default:
      throw new TypeError(
        `unsupported client authentication method: ${String((authentication as { method: unknown }).method)}`,
      );
  }
}

function requireSecret<T extends { clientSecret: string }>(authentication: T): T {
  if (typeof authentication.clientSecret !== 'string' || authentication.clientSecret === '') {
    throw new TypeError('clientSecret is required for client_secret_post and client_secret_basic');
  }
  return authentication;
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
