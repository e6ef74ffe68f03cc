/** The two SCIM resource types the broker serves (RFC 7643 §4). */
export type ScimResourceType = 'User' | 'Group';

/** One stored SCIM resource: its attributes (without `id`, `schemas` and `meta`) and its bookkeeping. */
export interface ScimRecord {
  id: string;
  /** Increases by one on every replace: the `meta.version` ETag and the compare-and-set of `replace`. */
  version: number;
  created: Date;
  lastModified: Date;
  attributes: Record<string, unknown>;
}

/**
 * A `userName` (compared case-insensitively, RFC 7643 §4.1.1) or `externalId` already taken by another
 * resource of the type: the SCIM service answers 409 `uniqueness`.
 */
export class ScimUniquenessConflict extends Error {
  readonly attribute: 'userName' | 'externalId';
  constructor(attribute: 'userName' | 'externalId') {
    super(`${attribute} is already taken`);
    this.attribute = attribute;
    this.name = 'ScimUniquenessConflict';
  }
}

/**
 * Where SCIM users and groups live. `MemoryScimStore` for one process; `SqlScimStore` (PostgreSQL or the
 * embedded PGlite) so that every broker instance of a deployment serves the same directory.
 */
export interface ScimStore {
  get(type: ScimResourceType, id: string): Promise<ScimRecord | undefined>;
  /** Every resource of the type; the SCIM service filters, sorts and pages (scimmy). */
  list(type: ScimResourceType): Promise<ScimRecord[]>;
  /** Throws `ScimUniquenessConflict`. */
  create(type: ScimResourceType, attributes: Record<string, unknown>): Promise<ScimRecord>;
  /**
   * Replaces the attributes when the stored version is still `expectedVersion`; `undefined` when another
   * writer (another broker instance) got there first, or the resource is gone. Throws `ScimUniquenessConflict`.
   */
  replace(
    type: ScimResourceType,
    id: string,
    attributes: Record<string, unknown>,
    expectedVersion: number,
  ): Promise<ScimRecord | undefined>;
  /** Deletes when the stored version is still `expectedVersion`; false otherwise. */
  delete(type: ScimResourceType, id: string, expectedVersion: number): Promise<boolean>;
}

/** The unique keys of a resource: users' `userName` (lower-cased) and `externalId`. */
export function uniqueKeys(
  type: ScimResourceType,
  attributes: Record<string, unknown>,
): { userName: string | null; externalId: string | null } {
  const userName =
    type === 'User' && typeof attributes.userName === 'string' ? attributes.userName.toLowerCase() : null;
  const externalId =
    type === 'User' && typeof attributes.externalId === 'string' ? attributes.externalId : null;
  return { userName, externalId };
}
