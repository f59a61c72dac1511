/**
 * The Standard Webhooks retry schedule: the first attempt at once, then these waits between attempts. After the
 * last one fails the delivery is dead.
 */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,14h,20h,24h';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "5s", "30m", "2h", "5d" → milliseconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : null;
}

/** `attemptsInRound` attempts have failed since the delivery was (re)sent; null means give up (dead). */
export function retryDelayMs(schedule: readonly number[], attemptsInRound: number, random: () => number = Math.random): number | null {
  const base = schedule[attemptsInRound - 1];
  if (base === undefined) return null;
  // ±10% jitter, so deliveries that failed together (an endpoint outage) do not all come back together.
  return Math.max(0, Math.round(base * (0.9 + 0.2 * random())));
}

const SPOKEN_UNITS: [ms: number, unit: string][] = [
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1_000, 'second'],
];

/** A duration in words for people: "5 days", "1 hour", "90 seconds" would be "1.5 minutes". Never "0 days". */
export function describeDuration(ms: number): string {
  const [size, unit] = SPOKEN_UNITS.find(([size]) => ms >= size) ?? [1, 'millisecond'];
  const n = Math.round((ms / size) * 10) / 10;
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
