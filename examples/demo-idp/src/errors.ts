/**
 * An OAuth error met while driving a flow: an error redirect to the client (`?error=…`), an error page of
 * the IdP, or an error response from the token endpoint. `error` is the OAuth error code, such as
 * `invalid_target` or `access_denied`, so callers can branch on it without parsing the message.
 */
export class OAuthFlowError extends Error {
  readonly error: string;
  readonly errorDescription: string | undefined;

  constructor(step: string, error: string, errorDescription?: string) {
    super(`${step} failed: ${error}${errorDescription ? ` (${errorDescription})` : ''}`);
    this.name = 'OAuthFlowError';
    this.error = error;
    this.errorDescription = errorDescription;
  }
}
