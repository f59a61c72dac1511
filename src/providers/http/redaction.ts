import { ChallengeRequired, ProviderError } from '../provider.ts';

/**
 * The one step everything a plug-in provider says passes through before the service keeps it: errors (message,
 * code, attribute names and values), challenges (id and message), the session's reference and status, accounts and
 * transactions. Every secret the service sent on the call (secret credentials, the plug-in token, a challenge
 * answer) is replaced by `[redacted]` wherever the provider repeated it, and NUL characters, which PostgreSQL
 * cannot store, are dropped. Prose meant for people (error messages, attribute values, a challenge's text) loses
 * every credential value, a login id too; data and identifiers (accounts, codes, attribute names) only the
 * secrets, so a login id that happens to be a word ("timeout") does not blank it out of `timeoutMs`. A safety net: the protocol tells
 * providers never to repeat a credential.
 */
export class Redactor {
  private readonly secrets: string[];
  private readonly credentials: string[];

  constructor(secrets: readonly string[], everyCredential: readonly string[] = secrets) {
    this.secrets = longestFirst(secrets);
    this.credentials = longestFirst(everyCredential);
  }

  /** Data and identifiers: secrets out, NUL out. */
  text(value: string): string {
    return replaceAll(stripNul(value), this.secrets);
  }

  /** Prose a person reads: every credential out, NUL out. */
  prose(value: string): string {
    return replaceAll(stripNul(value), this.credentials);
  }

  /** Strings anywhere in plain data (object keys included); Dates, numbers, booleans and null as they are. */
  value<T>(value: T): T {
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.value(v)) as T;
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.text(k), this.value(v)])) as T;
    }
    return value;
  }

  /** A ProviderError or ChallengeRequired with everything it carries redacted; anything else as it is. */
  thrown(error: unknown): unknown {
    if (error instanceof ChallengeRequired) {
      const { challenge } = error;
      return new ChallengeRequired({ ...challenge, id: this.prose(challenge.id), message: this.prose(challenge.message) });
    }
    if (error instanceof ProviderError) {
      const { code, attributes } = error.options;
      const prose = (v: unknown) => (typeof v === 'string' ? this.prose(v) : v);
      return new ProviderError(error.kind, this.prose(error.message), {
        ...error.options,
        ...(code !== undefined ? { code: this.text(code) } : {}),
        ...(attributes !== undefined
          ? { attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [this.text(k), prose(v)])) as typeof attributes }
          : {}),
      });
    }
    return error;
  }
}

// Very short values (an empty password, a 2-digit code) would blank out ordinary words; they carry little anyway.
const longestFirst = (values: readonly string[]) => [...new Set(values.filter((s) => s.length >= 3))].sort((a, b) => b.length - a.length);

const stripNul = (value: string) => (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value);

function replaceAll(value: string, words: readonly string[]): string {
  let out = value;
  for (const word of words) if (out.includes(word)) out = out.split(word).join('[redacted]');
  return out;
}
