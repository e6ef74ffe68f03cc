import { createHash } from 'node:crypto';

/** `prev` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** 64 lowercase hex characters: the form of every `prev` and `hash`. */
export const HASH_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The hash of one chain record: lowercase hex SHA-256 over the UTF-8 bytes of
 * `prev ‖ eventJson ‖ String(seq)`, where `prev` is the previous record's hash (64 hex characters),
 * `eventJson` the canonical JSON of the event (see `canonicalJson`) and `seq` the record's decimal
 * sequence number. The parts need no separator: `prev` has a fixed length and canonical JSON of an
 * object ends with `}`, so no two different triples give the same bytes. Including `seq` means a record
 * moved to another position no longer hashes, and including `prev` means no record can be removed,
 * inserted or reordered without breaking the next record's link.
 */
export function chainHash(prev: string, eventJson: string, seq: number): string {
  return createHash('sha256').update(prev).update(eventJson).update(String(seq)).digest('hex');
}
