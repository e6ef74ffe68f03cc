import { z } from 'zod';
import type { PlatformToken } from './connector.ts';
import { ConnectorError } from './errors.ts';

export interface TokenEndpointCall {
  connector: string;
  tokenEndpoint: string;
  /** Grant and client-authentication parameters, form-encoded into the body. */
  parameters: Record<string, string>;
  headers: Record<string, string>;
  traceparent: string | undefined;
  timeoutMs: number;
  nowSeconds: number;
  /** For a platform that omits `expires_in` (Salesforce does): the token is assumed to last this long. */
  defaultExpiresInSeconds: number;
}

const successBody = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  // Some platforms (Entra v1 among them) send the number as a string.
  expires_in: z.union([z.number().positive(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  scope: z.string().optional(),
});

const errorBody = z.object({ error: z.string().min(1), error_description: z.string().optional() });

/** The platform's words can be long or odd; an error carries at most this much of them. */
const MAX_DESCRIPTION_LENGTH = 500;

/**
 * POSTs one token request and turns the answer into a token or a `ConnectorError`: an OAuth error is a
 * refusal (the same request would fail again); no answer, a timeout, a 5xx or a 429 means unavailable
 * (a retry may succeed). Nothing from the request body appears in any error.
 */
export async function requestPlatformToken(call: TokenEndpointCall): Promise<PlatformToken> {
  const { connector } = call;
  let response: Response;
  let text: string;
  try {
    response = await fetch(call.tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(call.traceparent ? { traceparent: call.traceparent } : {}),
        ...call.headers,
      },
      body: new URLSearchParams(call.parameters),
      // Never follow a redirect: it would carry the credentials to wherever it points. It is reported
      // as a bad response instead.
      redirect: 'manual',
      signal: AbortSignal.timeout(call.timeoutMs),
    });
    text = await response.text();
  } catch (cause) {
    const timedOut = cause instanceof Error && cause.name === 'TimeoutError';
    throw new ConnectorError(
      'ERR_CONNECTOR_UNAVAILABLE',
      timedOut
        ? `${connector}: the platform token endpoint did not answer within ${call.timeoutMs} ms`
        : `${connector}: the platform token endpoint could not be reached`,
      { connector, cause },
    );
  }

  const json = parseJson(text);
  const status = response.status;
  if (response.ok) {
    const parsed = successBody.safeParse(json);
    if (!parsed.success || (parsed.data.token_type && parsed.data.token_type.toLowerCase() !== 'bearer')) {
      throw new ConnectorError(
        'ERR_CONNECTOR_BAD_RESPONSE',
        `${connector}: the platform answered ${status} without a bearer token response`,
        { connector, status },
      );
    }
    const { access_token, expires_in, scope } = parsed.data;
    return {
      accessToken: access_token,
      expiresAt: Math.floor(call.nowSeconds) + (expires_in ?? call.defaultExpiresInSeconds),
      ...(scope === undefined ? {} : { scope }),
    };
  }

  const oauth = errorBody.safeParse(json);
  const oauthError = oauth.success ? oauth.data.error : undefined;
  const oauthErrorDescription = oauth.success
    ? oauth.data.error_description?.slice(0, MAX_DESCRIPTION_LENGTH)
    : undefined;
  const details = { connector, status, oauthError, oauthErrorDescription };
  const said = oauthError
    ? `: ${oauthError}${oauthErrorDescription ? ` (${oauthErrorDescription})` : ''}`
    : '';
  if (status >= 500 || status === 429) {
    throw new ConnectorError(
      'ERR_CONNECTOR_UNAVAILABLE',
      `${connector}: the platform token endpoint answered ${status}${said}`,
      details,
    );
  }
  if (!oauthError) {
    throw new ConnectorError(
      'ERR_CONNECTOR_BAD_RESPONSE',
      `${connector}: the platform answered ${status} without an OAuth error`,
      details,
    );
  }
  throw new ConnectorError('ERR_CONNECTOR_REFUSED', `${connector}: the platform refused${said}`, details);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
