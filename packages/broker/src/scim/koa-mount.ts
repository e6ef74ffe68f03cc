import type { KoaContextWithOIDC } from 'oidc-provider';
import { SCIM_MAX_BODY_BYTES, type ScimService } from './scim-service.ts';

/**
 * Mounts a SCIM service on the broker's oidc-provider (`provider.use`): requests under `basePath` are
 * translated to a web `Request`, answered by the service and translated back; anything else passes on.
 * Translates only: every decision is the service's.
 */
export function scimMiddleware(service: ScimService, options: { issuer: string; basePath: string }) {
  const origin = new URL(options.issuer).origin;
  const prefix = options.basePath.replace(/\/$/, '');
  return async function scim(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) return next();
    const headers = new Headers();
    for (const [name, value] of Object.entries(ctx.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    }
    const hasBody = !['GET', 'HEAD', 'DELETE'].includes(ctx.method);
    const body = hasBody ? await readBody(ctx.req) : undefined;
    const response = await service(
      new Request(new URL(ctx.originalUrl, origin), {
        method: ctx.method,
        headers,
        ...(body === undefined ? {} : { body }),
      }),
    );
    ctx.status = response.status;
    response.headers.forEach((value, name) => {
      ctx.set(name, value);
    });
    ctx.body = response.body ? Buffer.from(await response.arrayBuffer()) : null;
    if (response.status === 204) ctx.body = null;
  };
}

/**
 * The request body; past the service's limit, reading stops and the service is handed one byte more
 * than it accepts, so that it answers 413 itself.
 */
async function readBody(req: NodeJS.ReadableStream): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.byteLength;
    if (size > SCIM_MAX_BODY_BYTES) return new Uint8Array(SCIM_MAX_BODY_BYTES + 1);
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
