import type { KoaContextWithOIDC } from 'oidc-provider';
import { z } from 'zod';
import type { TokenRegistry } from '../registry/token-registry.ts';
import type { OperatorRevocation } from '../revocation/operator-revocation.ts';
import { AdminAuthenticationError } from './admin-authentication.ts';

/** The admin API's paths, below the broker's own origin. */
export const ADMIN_REVOCATIONS_PATH = '/admin/revocations';
export const ADMIN_LIFT_PATH = '/admin/revocations/lift';

/** Largest request body accepted, bytes. */
const MAX_BODY = 16 * 1024;

const value = z.string().min(1).max(1024);
const reason = z.string().max(1000).optional();
const TARGETS = ['jti', 'root', 'subject', 'session', 'client'] as const;
const LIFTS = ['subject', 'client'] as const;

const revokeBody = z
  .strictObject({
    jti: value.optional(),
    root: value.optional(),
    subject: value.optional(),
    session: value.optional(),
    client: value.optional(),
    before: z.number().int().nonnegative().optional(),
    reason,
  })
  .refine((body) => TARGETS.filter((key) => body[key] !== undefined).length === 1, {
    message: 'name exactly one of jti, root, subject, session or client',
  })
  .refine((body) => body.before === undefined || body.subject !== undefined, {
    message: 'before applies to a subject only',
  });

const liftBody = z
  .strictObject({ subject: value.optional(), client: value.optional(), reason })
  .refine((body) => LIFTS.filter((key) => body[key] !== undefined).length === 1, {
    message: 'name exactly one of subject or client',
  });

export interface AdminRevocationsOptions {
  issuer: string;
  revocation: Pick<OperatorRevocation, 'revoke' | 'lift'>;
  registry: Pick<TokenRegistry, 'listRevocations'>;
  /** Resolves to the administering client's id, or throws `AdminAuthenticationError`. */
  authenticate(authorization: string | undefined): Promise<string>;
}

/**
 * The broker's revocation admin API (an `oidc-provider` app middleware; other paths pass through):
 *
 * - `POST /admin/revocations` `{ jti | root | subject | session | client, before?, reason? }` →
 *   `200 { covered, revocations }` (tokens covered; entries handed to receivers);
 * - `POST /admin/revocations/lift` `{ subject | client, reason? }` → `200 { lifted }`;
 * - `GET /admin/revocations` → `200 { revocations: [{ kind, value, before? }] }` (in force, not by jti).
 *
 * Every call is authenticated (`adminAuthentication`): none → 401 with a `Bearer` challenge; a client
 * that is not an administrator → 403; a malformed body → 400 `invalid_request`. Revocations go through
 * the broker's one revocation path, audited with the administering client as actor.
 */
export function adminRevocations(options: AdminRevocationsOptions) {
  const realm = options.issuer.replace(/[^\x20-\x7e]|["\\]/g, '');
  return async function adminRevocationsEndpoint(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (ctx.path !== ADMIN_REVOCATIONS_PATH && ctx.path !== ADMIN_LIFT_PATH) return next();
    ctx.set('Cache-Control', 'no-store');
    const lift = ctx.path === ADMIN_LIFT_PATH;
    const allowed = lift ? ['POST'] : ['GET', 'POST'];
    if (!allowed.includes(ctx.method)) {
      ctx.set('Allow', allowed.join(', '));
      return answer(ctx, 405, {
        error: 'method_not_allowed',
        error_description: `use ${allowed.join(' or ')}`,
      });
    }
    let actor: string;
    try {
      actor = await options.authenticate(ctx.get('authorization') || undefined);
    } catch (error) {
      if (!(error instanceof AdminAuthenticationError)) throw error;
      const code = error.error ? `, error="${error.error}", error_description="${error.description}"` : '';
      ctx.set('WWW-Authenticate', `Bearer realm="${realm}"${code}`);
      return answer(
        ctx,
        error.status,
        error.error ? { error: error.error, error_description: error.description } : {},
      );
    }
    if (ctx.method === 'GET') {
      return answer(ctx, 200, { revocations: await options.registry.listRevocations() });
    }
    const body = await jsonBody(ctx);
    if (body === undefined) {
      return answer(ctx, 400, {
        error: 'invalid_request',
        error_description: 'the body must be a JSON object (Content-Type: application/json, at most 16 KiB)',
      });
    }
    const parsed = (lift ? liftBody : revokeBody).safeParse(body);
    if (!parsed.success) {
      return answer(ctx, 400, {
        error: 'invalid_request',
        error_description: parsed.error.issues.map((issue) => issue.message).join('; '),
      });
    }
    const { reason: why, ...target } = parsed.data as Record<string, string | number | undefined>;
    const by = { actor, ...(typeof why === 'string' && why ? { reason: why } : {}) };
    if (lift) {
      const lifted = await options.revocation.lift(target as never, by);
      return answer(ctx, 200, { lifted });
    }
    const { covered, revocations } = await options.revocation.revoke(target as never, by);
    return answer(ctx, 200, { covered, revocations: revocations.length });
  };
}

function answer(ctx: KoaContextWithOIDC, status: number, body: Record<string, unknown>): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

/** The request's JSON object, or `undefined` when it is not one (wrong type, too large, not JSON). */
async function jsonBody(ctx: KoaContextWithOIDC): Promise<unknown> {
  if (!ctx.is('application/json')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
