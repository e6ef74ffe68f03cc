/** Why a tool's downstream call was refused or failed, as a stable code. */
export type DownstreamErrorCode =
  | 'ERR_DOWNSTREAM_UNKNOWN_SERVICE'
  | 'ERR_DOWNSTREAM_NOT_ALLOWED'
  | 'ERR_DOWNSTREAM_NOT_CONFIGURED'
  | 'ERR_DOWNSTREAM_TOKEN_REFUSED'
  | 'ERR_DOWNSTREAM_UNAVAILABLE'
  /** The tool's path would leave the service's URL (another origin, or outside its path). */
  | 'ERR_DOWNSTREAM_PATH_REFUSED'
  /** The tool invocation this client was made for has ended (or its caller's token expired). */
  | 'ERR_DOWNSTREAM_INVOCATION_ENDED';

/** A refused or failed downstream call. The message never holds a token. */
export class DownstreamError extends Error {
  override readonly name = 'DownstreamError';
  readonly code: DownstreamErrorCode;
  constructor(code: DownstreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
