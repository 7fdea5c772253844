import type { ClientType } from './client.entity.js';

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why a redirect URI is refused, or undefined when it is acceptable: absolute, no fragment,
 * https except for loopback hosts; native apps may also use a reverse-domain private-use
 * scheme (RFC 8252 §7.1).
 */
export function redirectUriProblem(uri: string, type: ClientType): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return `${uri}: not an absolute URI`;
  }
  if (parsed.hash) return `${uri}: must not contain a fragment`;
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:') return loopbackHosts.has(parsed.hostname) ? undefined : `${uri}: https is required except for loopback hosts`;
  if (type === 'native' && /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(parsed.protocol)) return undefined;
  return `${uri}: https is required except for loopback hosts`;
}
