import { BatonError } from './baton-error.ts';
import type { BatonFailureCode } from './codes.ts';
import type { ProtocolRefusal } from './refusal.ts';

/**
 * Any error a Baton package throws on purpose, as a union `switch (error.code)` narrows: an `ERR_*`
 * code is a Baton failure, an RFC `error` code a `ProtocolRefusal` (with `status` and `reason`).
 *
 * @example
 * if (isBatonError(error)) switch (error.code) {
 *   case 'ERR_CONNECTOR_UNAVAILABLE': return retryLater();
 *   case 'invalid_token': return reauthenticate(error.status);
 * }
 */
export type AnyBatonError = { [C in BatonFailureCode]: BatonError<C> }[BatonFailureCode] | ProtocolRefusal;

/** Whether `value` is a `BatonError` (from any Baton package), typed so that `switch (value.code)` narrows. */
export function isBatonError(value: unknown): value is AnyBatonError {
  return value instanceof BatonError;
}
