/**
 * Which `Host` headers the dashboard answers, against DNS rebinding: a page on `evil.example` whose
 * name is re-pointed at 127.0.0.1 reaches the server with `Host: evil.example`, so the server refuses
 * every name but `localhost`, the address it listens on, and names the user allowed. An IP literal
 * cannot be rebound, so a server listening on every interface (0.0.0.0, ::) also accepts any IP.
 * Without a Host header (HTTP/1.0 tools) there is no browser and nothing to rebind: accepted.
 */
import { isIP } from 'node:net';

/** True for names and addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = bare(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || /^::ffff:127\./.test(h);
}

const isWildcard = (host: string) => ['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0'].includes(bare(host));

/** Lower case, no brackets around an IPv6 address, no trailing dot. */
function bare(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`), or undefined when it is
 * not one (user info, paths and other characters a browser never sends are not parsed around).
 */
export function hostName(header: string): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+|[0-9a-f:]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  // A bare IPv6 address (no brackets, so no port) matches the last alternative whole.
  return m ? bare(m[1]!) : undefined;
}

/** True for a host name or IP address as `allowedHosts` takes them: no port, nothing else. */
export function isHostName(name: string): boolean {
  const h = hostName(name);
  return h !== undefined && h === bare(name);
}

/**
 * A test of `Host` header values for a server listening on `bound` (as given to `listen`, and the
 * address it resolved to), also allowing the names in `allowed`.
 *
 * @example
 *   const ok = hostCheck(['127.0.0.1']);
 *   ok('localhost:8080'); // true
 *   ok('evil.example:8080'); // false
 */
export function hostCheck(
  bound: readonly string[],
  allowed: readonly string[] = [],
): (header: string | undefined) => boolean {
  // `bound` is read at each call: a server learns the address it resolved to only once listening.
  return (header) => {
    if (header === undefined) return true;
    const name = hostName(header);
    if (name === undefined) return false;
    if (name === 'localhost' || [...bound, ...allowed].some((h) => bare(h) === name)) return true;
    return bound.some(isWildcard) && isIP(name) !== 0;
  };
}

/** What `hostCheck(bound)` accepts besides the allowed names, in words for the refusal sentence. */
export function acceptedHosts(bound: readonly string[]): string {
  const names = new Set(['localhost', ...bound.filter((h) => !isWildcard(h)).map(bare)]);
  if (bound.some(isWildcard)) names.add('any IP address');
  return [...names].join(', ');
}
