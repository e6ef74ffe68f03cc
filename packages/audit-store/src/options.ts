import type { KeyObject } from 'node:crypto';

/**
 * What a store does when it cannot make an event durable where it was asked to:
 * - `fail-closed`: `write` rejects, so the caller refuses the action it was auditing;
 * - `buffer`: `write` resolves once the event is durable locally and is delivered later.
 */
export type AuditFailurePolicy = 'fail-closed' | 'buffer';

/** A writer name is part of file names and of every record's identity: a short, plain token. */
export const WRITER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DEFAULT_CHECKPOINT_EVERY = 1000;

export function checkWriter(owner: string, writer: unknown): string {
  if (typeof writer !== 'string' || !WRITER_PATTERN.test(writer)) {
    throw new TypeError(`${owner}: writer must match ${WRITER_PATTERN}`);
  }
  return writer;
}

export function checkCheckpointEvery(owner: string, value: unknown): number {
  if (value === undefined) return DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new TypeError(`${owner}: checkpointEvery must be a positive integer`);
  }
  return value as number;
}

export function checkSigningKey(owner: string, value: unknown): KeyObject | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || !('asymmetricKeyType' in value)) {
    throw new TypeError(`${owner}: signingKey must be a KeyObject`);
  }
  return value as KeyObject;
}

export function checkDirectory(owner: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${owner}: ${name} must be a directory path`);
  }
  return value;
}
