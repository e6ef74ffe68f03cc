import { isLoopbackHostname, requestAddress } from '@baton/resource-server';
import {
  localhostAllowedHostnames,
  originValidationResponse,
  validateHostHeader,
} from '@modelcontextprotocol/server';
import { ConsoleRefusal } from './auth/refusal.ts';

/** The names the console answers to by default: its public hostname, or the loopback names. */
export function defaultAllowedHostnames(publicUrl: URL | undefined): string[] {
  if (!publicUrl || isLoopbackHostname(publicUrl.hostname)) return localhostAllowedHostnames();
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
  // The same reading of the request's host as the MCP boundary's: the Host header, or (fetch-native
  // runtimes) the URL's; a malformed one is a 400.
  const address = requestAddress(request);
  if ('reason' in address) {
    return new ConsoleRefusal(400, 'invalid_request', address.description, 'request_malformed');
  }
  const host = validateHostHeader(address.host, allowedHostnames as string[]);
  if (!host.ok) {
    return new ConsoleRefusal(
      403,
      'invalid_request',
      'This console is not served under that host name.',
      'host_not_allowed',
    );
  }
  if (originValidationResponse(request, allowedHostnames as string[])) {
    return new ConsoleRefusal(
      403,
      'invalid_request',
      'Requests from other sites are not accepted.',
      'origin_not_allowed',
    );
  }
  return undefined;
}
