import { isIP } from 'node:net';

/** How many redirect URIs one app may register. */
export const MAX_REDIRECT_URIS = 20;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A redirect URI an app may register, as OAuth 2.1 has it: absolute, https (plain http only to a loopback host,
 * for development), no fragment, no user name or password. Null when acceptable, else what is wrong.
 */
export function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URL such as https://app.example.com/connected';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    return 'must be https (http only for localhost, 127.0.0.1 or [::1])';
  }
  if (url.hash || uri.includes('#')) return 'must not have a fragment';
  if (url.username || url.password) return 'must not carry a user name or password';
  if (isIP(url.hostname.replace(/^\[|\]$/g, '')) === 0 && !url.hostname.includes('.') && url.hostname !== 'localhost') {
    return 'must name a host with a domain';
  }
  return null;
}

/** The origins of the registered URIs: the only ones that may frame the hosted pages or get their postMessage. */
export const originsOf = (uris: readonly string[]) => [...new Set(uris.map((u) => new URL(u).origin))];
