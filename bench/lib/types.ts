/** What every scenario gets and gives back (bench/run.ts runs them and writes the results). */

export interface BenchContext {
  quick: boolean;
  /** A fresh, migrated database of its own (on the bench's PostgreSQL server). */
  database(name: string): Promise<BenchDatabase>;
  /** CREDENTIALS_KEYS for service processes the scenario starts. */
  credentialKeysEnv: string;
  /** Progress for the person watching. */
  log(message: string): void;
}

export interface BenchDatabase {
  url: string;
  name: string;
}

export interface Ratio {
  name: string;
  value: number;
  /** The target, when it sets one. */
  target?: { op: '>=' | '<='; value: number };
}

export interface LatencySeries {
  label: string;
  /** Latency samples in milliseconds (or a histogram's percentiles when samples are not kept). */
  samplesMs: number[];
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** The table's rows: one per measured thing, with its figures. */
  rows: Record<string, string | number>[];
  ratios: Ratio[];
  latencies?: LatencySeries[];
  /** Peak resident memory of service processes, by what they were doing. */
  peakRssMb?: Record<string, number>;
  notes?: string[];
}

export type Scenario = (ctx: BenchContext) => Promise<ScenarioResult>;

export function percentile(sortedAscending: number[], p: number): number {
  if (sortedAscending.length === 0) return NaN;
  const i = Math.min(sortedAscending.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAscending.length) - 1));
  return sortedAscending[i]!;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
