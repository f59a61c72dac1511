import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs. Anything that could carry a secret is redacted by path, as a second line of defence: the code
 * never passes credentials or keys to the logger in the first place.
 */
export function createLogger(level: string = 'info', fd: 1 | 2 = 1): Logger {
  return pino(
    {
    level,
    base: { service: 'connections-service' },
    redact: {
      paths: [
        'credentials',
        '*.credentials',
        'apiKey',
        '*.apiKey',
        'password',
        '*.password',
        'req.headers.authorization',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  },
    pino.destination({ fd, sync: fd === 2 }),
  );
}
