import {
  localhostAllowedHostnames,
  originValidationResponse,
  validateHostHeader,
} from '@modelcontextprotocol/server';
import { isLoopback } from './auth/options.ts';
import { ConsoleRefusal } from './auth/refusal.ts';

/** The names the console answers to by default: its public hostname, or the loopback names. */
export function defaultAllowedHostnames(publicUrl: URL | undefined): string[] {
  if (!publicUrl || isLoopback(publicUrl.hostname)) return localhostAllowedHostnames();
  return [publicUrl.hostname];
}

/**
 * The MCP boundary's DNS-rebinding and cross-site checks, with the SDK's own helpers: a page on
 * another site that points its name at this console's address sends its own `Host`, and a browser
 * sends that site's `Origin`. Either is refused before anything is read.
 */
export function checkHostAndOrigin(
  request: Request,
  allowedHostnames: readonly string[],
): ConsoleRefusal | undefined {
  // Fetch-native runtimes build requests without a Host header; their URL carries the host.
  const host = validateHostHeader(request.headers.get('host') ?? URL.parse(request.url)?.host ?? null, [
    ...allowedHostnames,
  ]);
  if (!host.ok) {
    return new ConsoleRefusal(
      403,
      'invalid_request',
      'This console is not served under that host name.',
      'host_not_allowed',
    );
  }
  if (originValidationResponse(request, [...allowedHostnames])) {
    return new ConsoleRefusal(
      403,
      'invalid_request',
      'Requests from other sites are not accepted.',
      'origin_not_allowed',
    );
  }
  return undefined;
}
