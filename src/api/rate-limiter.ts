/**
 * Per-app rate limits of this process: a token bucket for all of an app's calls, and a smaller one for its
 * mutations. Limits count per replica (each API process keeps its own buckets), as README says.
 */
export interface RateLimitSettings {
  requestsPerSecond: number;
  requestBurst: number;
  mutationsPerSecond: number;
  mutationBurst: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  requestsPerSecond: 100,
  requestBurst: 200,
  mutationsPerSecond: 20,
  mutationBurst: 40,
};

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole seconds until a call would be allowed (0 when allowed). */
  retryAfterSeconds: number;
  /** The RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for the bucket that decided. */
  headers: Record<string, string>;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token from the app's request bucket, and from its mutation bucket for a mutation. */
  take(appId: string, mutation: boolean): RateLimitDecision {
    const s = this.settings;
    const requests = this.fill(`r:${appId}`, s.requestsPerSecond, s.requestBurst);
    const mutations = mutation ? this.fill(`m:${appId}`, s.mutationsPerSecond, s.mutationBurst) : null;
    const short =
      requests.tokens < 1
        ? { bucket: requests, rate: s.requestsPerSecond, name: 'requests' as const }
        : mutations && mutations.tokens < 1
          ? { bucket: mutations, rate: s.mutationsPerSecond, name: 'mutations' as const }
          : null;
    if (short) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - short.bucket.tokens) / short.rate));
      return { allowed: false, retryAfterSeconds, headers: this.headers(requests, mutations, short.name) };
    }
    requests.tokens -= 1;
    if (mutations) mutations.tokens -= 1;
    return { allowed: true, retryAfterSeconds: 0, headers: this.headers(requests, mutations, mutations ? 'mutations' : 'requests') };
  }

  private fill(key: string, rate: number, burst: number): Bucket {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** `q` the burst, `w` the seconds the bucket takes to refill; `r` what is left, `t` seconds until full again. */
  private headers(requests: Bucket, mutations: Bucket | null, current: 'requests' | 'mutations'): Record<string, string> {
    const s = this.settings;
    const policy = (name: string, burst: number, rate: number) => `"${name}";q=${burst};w=${Math.max(1, Math.ceil(burst / rate))}`;
    const state = (name: string, b: Bucket, burst: number, rate: number) =>
      `"${name}";r=${Math.max(0, Math.floor(b.tokens))};t=${Math.max(0, Math.ceil((burst - b.tokens) / rate))}`;
    const bucket = current === 'mutations' && mutations ? mutations : requests;
    const [burst, rate] = current === 'mutations' ? [s.mutationBurst, s.mutationsPerSecond] : [s.requestBurst, s.requestsPerSecond];
    return {
      'ratelimit-policy': `${policy('requests', s.requestBurst, s.requestsPerSecond)}, ${policy('mutations', s.mutationBurst, s.mutationsPerSecond)}`,
      ratelimit: state(current, bucket, burst, rate),
    };
  }
}
