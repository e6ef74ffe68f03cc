import { BatonError, type DownstreamErrorCode } from '@baton/core';

/** Why a tool's downstream call was refused or failed, as a stable code (listed in `@baton/core`). */
export type { DownstreamErrorCode } from '@baton/core';

/** A refused or failed downstream call. The message never holds a token. */
export class DownstreamError extends BatonError<DownstreamErrorCode> {
  override readonly name = 'DownstreamError';
  constructor(code: DownstreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
