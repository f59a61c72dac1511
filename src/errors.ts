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
  /** The app is at one of its quotas (endpoints, rules, connections per user); `details: { quota, limit }`. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
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

  /** `at`: where in the input the id was, when it came in a field other than the procedure's own `id`. */
  static notFound(what: string, id: string, at?: (string | number)[]): AppError {
    const message = `${what} ${id} not found`;
    return new AppError(ErrorCode.NOT_FOUND, at ? `${formatPath(at)}: ${message}` : message, at ? { issues: [{ path: at, message }] } : {});
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(input)';
}

/**
 * Every id of a list the caller gave must be one of `found` (the caller's own): the first that is not is NOT_FOUND
 * at its position, as a missing id is everywhere else. Another app's ids look exactly like missing ones.
 */
export function requireAllFound(
  ids: readonly string[] | null | undefined,
  found: ReadonlySet<string>,
  what: string,
  field: (string | number)[],
): void {
  const missing = ids?.findIndex((id) => !found.has(id)) ?? -1;
  if (missing >= 0) throw AppError.notFound(what, ids![missing]!, [...field, missing]);
}
