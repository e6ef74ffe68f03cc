/**
 * The console's two cookies. Over https both are `Secure` with the `__Host-` prefix (the browser then
 * refuses them unless they came from this exact origin, with `Path=/` and no `Domain`).
 *
 * - the session: `SameSite=Strict`, so no other site can make the browser send it;
 * - the sign-in state (state, nonce, PKCE verifier, encrypted): `SameSite=Lax`, because the provider
 *   sends the browser back with a cross-site navigation that a `Strict` cookie would not join.
 */
export interface ConsoleCookies {
  session: string;
  signIn: string;
  secure: boolean;
}

export function consoleCookies(secure: boolean): ConsoleCookies {
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}baton-console-session`, signIn: `${prefix}baton-console-sign-in`, secure };
}

export function setCookie(
  cookies: ConsoleCookies,
  name: string,
  value: string,
  options: { sameSite: 'Strict' | 'Lax'; maxAgeSeconds: number },
): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    `SameSite=${options.sameSite}`,
    `Max-Age=${options.maxAgeSeconds}`,
    ...(cookies.secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearCookie(cookies: ConsoleCookies, name: string, sameSite: 'Strict' | 'Lax'): string {
  return setCookie(cookies, name, '', { sameSite, maxAgeSeconds: 0 });
}

/** The value of one cookie in a `Cookie` header; the first wins when a name repeats. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at !== -1 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}
