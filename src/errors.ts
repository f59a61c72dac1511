/**
 * The one error type domain code throws. `src/api/error-map.ts` alone turns these into transport errors.
 */
export const ErrorCode = {
  /** Input that passed the schema but breaks a rule (names the field in `path`). */
  VALIDATION: 'VALIDATION',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** Missing, or owned by another app: the two are indistinguishable on purpose. */
  NOT_FOUND: 'NOT_FOUND',
  /** The resource is busy (a job queued or running) or a stale version was given. */
  CONFLICT: 'CONFLICT',
  /** The request is valid but the resource is not in a state that allows it. */
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface FieldIssue {
  path: (string | number)[];
  message: string;
}

export interface AppErrorDetails {
  /** Field-level problems, for VALIDATION. */
  issues?: FieldIssue[];
  [key: string]: unknown;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: AppErrorDetails = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  static validation(path: (string | number)[], message: string): AppError {
    return new AppError(ErrorCode.VALIDATION, `${formatPath(path)}: ${message}`, { issues: [{ path, message }] });
  }

  static notFound(what: string, id: string): AppError {
    return new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`);
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(input)';
}
