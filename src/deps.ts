import type { DataSource } from 'typeorm';
import type { Clock } from './clock.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './observability/metrics.ts';
import type { CredentialCipher } from './security/credential-cipher.ts';

/** What every domain service is built from; tests build the same thing around a per-file database and a manual clock. */
export interface Deps {
  db: DataSource;
  clock: Clock;
  cipher: CredentialCipher;
  logger: Logger;
  metrics: Metrics;
}
