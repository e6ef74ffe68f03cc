const MAX_HOSTNAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const MAX_PORT = 65535;

/**
 * Whether a `Host` value (RFC 9110 §7.2: `uri-host [ ":" port ]`) is one a Baton component can answer
 * to: a DNS name or IPv4 address of `[A-Za-z0-9_-]` labels joined by single dots, or a bracketed IPv6
 * literal, then an optional port of 1 to 5 digits up to 65535.
 *
 * Stricter than RFC 3986 on purpose. Userinfo (`@`), paths, percent-escapes, spaces and non-ASCII
 * bytes would make a URL built from the value name another host or path than the one sent; a trailing
 * dot names the same host twice (`localhost.`), which host allow-lists compare unequal. Anything the
 * WHATWG URL parser would refuse (`[::1`, `1.2.3.4.5`) is refused here too, so every accepted value
 * builds a URL. Cheap: one pass over the characters; the URL parser runs only for numeric hosts.
 */
export function isWellFormedHost(host: string): boolean {
  const length = host.length;
  if (length === 0) return false;
  let index: number;
  let numeric: boolean;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    if (close < 3) return false;
    for (let at = 1; at < close; at += 1) {
      const code = host.charCodeAt(at);
      if (!(isHexDigit(code) || code === 0x3a /* : */ || code === 0x2e) /* . */) return false;
    }
    index = close + 1;
    numeric = true;
  } else {
    let labelStart = 0;
    index = 0;
    for (; index < length; index += 1) {
      const code = host.charCodeAt(index);
      if (code === 0x3a /* : */) break;
      if (code === 0x2e /* . */) {
        if (index === labelStart || index - labelStart > MAX_LABEL_LENGTH) return false;
        labelStart = index + 1;
      } else if (!isLabelCharacter(code)) {
        return false;
      }
    }
    if (index === labelStart || index - labelStart > MAX_LABEL_LENGTH || index > MAX_HOSTNAME_LENGTH)
      return false;
    // A last label starting with a digit makes the WHATWG parser read the name as an IPv4 address.
    numeric = isDigit(host.charCodeAt(labelStart));
  }
  if (index < length) {
    if (host.charCodeAt(index) !== 0x3a /* : */) return false;
    const digits = length - index - 1;
    if (digits < 1 || digits > 5) return false;
    let port = 0;
    for (let at = index + 1; at < length; at += 1) {
      const code = host.charCodeAt(at);
      if (!isDigit(code)) return false;
      port = port * 10 + (code - 0x30);
    }
    if (port > MAX_PORT) return false;
  }
  return !numeric || URL.canParse(`http://${host}/`);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isHexDigit(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

function isLabelCharacter(code: number): boolean {
  return (
    isDigit(code) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x2d /* - */ ||
    code === 0x5f /* _ */
  );
}

/**
 * Whether a URL's `hostname` is one of the loopback names the MCP SDK's `localhostAllowedHostnames()`
 * lists (`localhost`, `127.0.0.1`, `[::1]`): a service there accepts those names in `Host` and may
 * speak plain HTTP.
 */
export function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}
