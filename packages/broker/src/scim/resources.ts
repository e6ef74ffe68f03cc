import SCIMMY from 'scimmy';
import type { ScimRecord, ScimResourceType, ScimStore } from './scim-store.ts';
import { ScimUniquenessConflict } from './scim-store.ts';
import type {
  LifecycleContext,
  ScimLifecycleReason,
  SubjectLifecycle,
  SubjectRevocation,
} from './subject-lifecycle.ts';

/**
 * What one SCIM request's handlers work with. scimmy keeps its handlers on its resource classes (one
 * set per process), so everything per broker instance and per request travels here, as scimmy's `ctx`.
 */
export interface ScimRequestContext {
  store: ScimStore;
  lifecycle: SubjectLifecycle;
  /** The authenticated SCIM client. */
  actor: string;
  /** Unix seconds now. */
  now: () => number;
  /** The version each resource had when this request read it (PATCH reads, then writes). */
  readVersions: Map<string, number>;
  /** Set when a compare-and-set lost to another writer: the service runs the request again. */
  conflict: boolean;
  /** A failure that is not the client's (the store, the revocation model), for the service to log. */
  failure?: unknown;
}

const ScimError = SCIMMY.Types.Error;

/** The IdP subject a SCIM user stands for: its `externalId` (the identity provider's `sub`). */
export function subjectOf(attributes: Record<string, unknown>): string | undefined {
  return typeof attributes.externalId === 'string' && attributes.externalId !== ''
    ? attributes.externalId
    : undefined;
}

/** The stored record as the SCIM representation scimmy serialises. */
function scimOf(record: ScimRecord): Record<string, unknown> {
  return {
    ...record.attributes,
    id: record.id,
    meta: { created: record.created, lastModified: record.lastModified, version: `W/"${record.version}"` },
  };
}

/** A resource as received (scimmy has checked it against the schema), without what the server owns or must not keep. */
function attributesOf(instance: unknown): Record<string, unknown> {
  const {
    id: _id,
    schemas: _schemas,
    meta: _meta,
    password: _password,
    ...attributes
  } = JSON.parse(JSON.stringify(instance)) as Record<string, unknown>;
  return attributes;
}

async function current(ctx: ScimRequestContext, type: ScimResourceType, id: string): Promise<ScimRecord> {
  const record = await guarded(ctx, () => ctx.store.get(type, id));
  if (!record) throw new ScimError(404, null as never, `Resource ${id} not found`);
  // A PATCH writes what it read: replace the version it patched, not a newer one.
  const read = ctx.readVersions.get(`${type}/${id}`);
  if (read !== undefined && read !== record.version) lostRace(ctx);
  return record;
}

function lostRace(ctx: ScimRequestContext): never {
  ctx.conflict = true;
  throw new ScimError(412, null as never, 'The resource changed while this request was applied');
}

/** Runs a store or lifecycle call; its failure becomes a 500 without detail (scimmy would call it 404). */
async function guarded<T>(ctx: ScimRequestContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ScimUniquenessConflict) {
      throw new ScimError(409, 'uniqueness', `${error.attribute} is already taken`);
    }
    ctx.failure = error;
    throw new ScimError(500, null as never, 'The request could not be completed');
  }
}

function revoke(ctx: ScimRequestContext, target: SubjectRevocation, reason: ScimLifecycleReason) {
  const context: LifecycleContext = { actor: ctx.actor, reason };
  return guarded(ctx, () => ctx.lifecycle.revoke(target, context));
}

function lift(ctx: ScimRequestContext, subject: string, reason: ScimLifecycleReason) {
  const context: LifecycleContext = { actor: ctx.actor, reason };
  return guarded(ctx, () => ctx.lifecycle.lift({ subject }, context));
}

/** Tokens issued before the next second: iat has one-second resolution (as `revocationsOfEvent`). */
function beforeNow(ctx: ScimRequestContext): number {
  return ctx.now() + 1;
}

function egress(type: ScimResourceType) {
  return async (
    resource: { id?: string; filter?: { match(values: unknown[]): unknown[] } },
    ctx: unknown,
  ) => {
    const context = ctx as ScimRequestContext;
    if (resource.id) {
      const record = await guarded(context, () => context.store.get(type, resource.id!));
      if (!record) throw new ScimError(404, null as never, `Resource ${resource.id} not found`);
      context.readVersions.set(`${type}/${record.id}`, record.version);
      return scimOf(record);
    }
    const all = (await guarded(context, () => context.store.list(type))).map(scimOf);
    return resource.filter ? resource.filter.match(all) : all;
  };
}

/**
 * Users: the `externalId` is the identity provider's `sub` — required, and fixed once set (it is what
 * revocations name). `active: false` (at creation, PATCH or PUT) disables the subject before the change
 * is stored; a change from `false` to an explicit `true` lifts it once stored. A PUT that leaves `active`
 * out keeps it as it was. Creating a user never lifts anything: it must not undo a disable that came
 * from elsewhere (the identity provider, an operator); a person re-provisioned after a DELETE is created
 * with `active: false`, then set `active: true`.
 */
async function userIngress(resource: { id?: string }, instance: unknown, ctx: unknown) {
  const context = ctx as ScimRequestContext;
  const attributes = attributesOf(instance);
  if (!resource.id) {
    const subject = subjectOf(attributes);
    if (!subject) {
      throw new ScimError(400, 'invalidValue', "externalId (the identity provider's sub) is required");
    }
    if (attributes.active === false) await revoke(context, { subject }, 'scim_user_deactivated');
    return scimOf(await guarded(context, () => context.store.create('User', attributes)));
  }
  const previous = await current(context, 'User', resource.id);
  const subject = subjectOf(previous.attributes)!;
  if (attributes.externalId === undefined) attributes.externalId = subject;
  if (attributes.externalId !== subject) {
    throw new ScimError(400, 'mutability', "externalId (the identity provider's sub) cannot change");
  }
  if (attributes.active === undefined && previous.attributes.active === false) attributes.active = false;
  const wasActive = previous.attributes.active !== false;
  if (wasActive && attributes.active === false) await revoke(context, { subject }, 'scim_user_deactivated');
  const record = await guarded(context, () =>
    context.store.replace('User', previous.id, attributes, previous.version),
  );
  if (!record) lostRace(context);
  if (!wasActive && attributes.active === true) await lift(context, subject, 'scim_user_reactivated');
  return scimOf(record);
}

/** Deleting a user disables the subject (tokens and new exchanges refused until lifted) and drops its memberships. */
async function userDegress(resource: { id?: string }, ctx: unknown) {
  const context = ctx as ScimRequestContext;
  const previous = await current(context, 'User', resource.id!);
  await revoke(context, { subject: subjectOf(previous.attributes)! }, 'scim_user_deleted');
  if (!(await guarded(context, () => context.store.delete('User', previous.id, previous.version)))) {
    lostRace(context);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const groups = await guarded(context, () => context.store.list('Group'));
    const holding = groups.filter((group) => memberIds(group.attributes).includes(previous.id));
    if (holding.length === 0) return;
    for (const group of holding) {
      const members = membersOf(group.attributes).filter((member) => member.value !== previous.id);
      await guarded(context, () =>
        context.store.replace('Group', group.id, { ...group.attributes, members }, group.version),
      );
    }
  }
}

interface Member {
  value: string;
  [attribute: string]: unknown;
}

function membersOf(attributes: Record<string, unknown>): Member[] {
  return Array.isArray(attributes.members) ? (attributes.members as Member[]) : [];
}

function memberIds(attributes: Record<string, unknown>): string[] {
  return membersOf(attributes).map((member) => member.value);
}

/**
 * Groups of users (nested groups are refused). A member removed — PATCH remove, a PUT without them, the
 * group deleted — has every token issued before now revoked, before the change is stored (CAEP
 * token-claims-change: what they carry came from the old membership; new tokens come from the identity
 * provider with the new claims). Adding members revokes nothing.
 */
async function groupIngress(resource: { id?: string }, instance: unknown, ctx: unknown) {
  const context = ctx as ScimRequestContext;
  const attributes = attributesOf(instance);
  const ids = [...new Set(memberIds(attributes))];
  for (const id of ids) {
    if (!(await guarded(context, () => context.store.get('User', id)))) {
      throw new ScimError(400, 'invalidValue', `member ${id} is not a User of this service provider`);
    }
  }
  if (!resource.id) return scimOf(await guarded(context, () => context.store.create('Group', attributes)));
  const previous = await current(context, 'Group', resource.id);
  await revokeRemoved(
    context,
    memberIds(previous.attributes).filter((id) => !ids.includes(id)),
  );
  const record = await guarded(context, () =>
    context.store.replace('Group', previous.id, attributes, previous.version),
  );
  if (!record) lostRace(context);
  return scimOf(record);
}

async function groupDegress(resource: { id?: string }, ctx: unknown) {
  const context = ctx as ScimRequestContext;
  const previous = await current(context, 'Group', resource.id!);
  await revokeRemoved(context, memberIds(previous.attributes));
  if (!(await guarded(context, () => context.store.delete('Group', previous.id, previous.version)))) {
    lostRace(context);
  }
}

async function revokeRemoved(context: ScimRequestContext, userIds: readonly string[]) {
  for (const id of new Set(userIds)) {
    const user = await guarded(context, () => context.store.get('User', id));
    const subject = user && subjectOf(user.attributes);
    if (subject) {
      await revoke(context, { subject, before: beforeNow(context) }, 'scim_group_membership_removed');
    }
  }
}

let declared = false;

/**
 * Declares the User and Group resources with scimmy once per process (scimmy's handlers are
 * process-wide; each request's `ScimRequestContext` carries the broker instance's store and lifecycle).
 * Locations are relative (`/Users/<id>`); the service makes them absolute per instance.
 */
export function declareScimResources(): typeof SCIMMY {
  if (declared) return SCIMMY;
  declared = true;
  SCIMMY.Config.set({
    patch: true,
    filter: { supported: true, maxResults: 200 },
    sort: true,
    bulk: false,
    changePassword: false,
    etag: false,
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'An access token the broker issued to an operator-approved client (RFC 6750).',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
      },
    ],
  });
  SCIMMY.Resources.declare(
    SCIMMY.Resources.User.ingress(userIngress as never)
      .egress(egress('User') as never)
      .degress(userDegress as never),
  );
  SCIMMY.Resources.declare(
    SCIMMY.Resources.Group.ingress(groupIngress as never)
      .egress(egress('Group') as never)
      .degress(groupDegress as never),
  );
  SCIMMY.Resources.User.basepath('');
  SCIMMY.Resources.Group.basepath('');
  SCIMMY.Resources.Schema.basepath('');
  SCIMMY.Resources.ResourceType.basepath('');
  SCIMMY.Resources.ServiceProviderConfig.basepath('');
  return SCIMMY;
}
