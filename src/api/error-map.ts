import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { AppError, ErrorCode, formatPath, type FieldIssue } from '../errors.ts';

// The one place domain error codes become transport error codes.
const TRPC_CODE: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  [ErrorCode.VALIDATION]: 'BAD_REQUEST',
  [ErrorCode.UNAUTHORIZED]: 'UNAUTHORIZED',
  [ErrorCode.NOT_FOUND]: 'NOT_FOUND',
  [ErrorCode.CONFLICT]: 'CONFLICT',
  [ErrorCode.PRECONDITION_FAILED]: 'PRECONDITION_FAILED',
  [ErrorCode.RATE_LIMITED]: 'TOO_MANY_REQUESTS',
};

export function appErrorToTRPC(error: AppError): TRPCError {
  return new TRPCError({ code: TRPC_CODE[error.code], message: error.message, cause: error });
}

/** Schema failures (zod via Standard Schema) as field issues; paths may be keys or `{ key }` segments. */
export function schemaIssues(cause: unknown): FieldIssue[] | null {
  const issues = (cause as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(issues)) return null;
  return issues.flatMap((i: { path?: unknown[]; message?: string; code?: string; keys?: string[] }) => {
    const path = (i.path ?? []).map((p) =>
      typeof p === 'object' && p !== null && 'key' in p ? (p as { key: string | number }).key : (p as string | number),
    );
    // An unknown key is an issue of the object; name the key itself, so the client sees which field to remove.
    if (i.code === 'unrecognized_keys' && Array.isArray(i.keys)) {
      return i.keys.map((k) => ({ path: [...path, k], message: 'unknown field' }));
    }
    return [{ path, message: i.message ?? 'invalid' }];
  });
}

export function describeIssues(issues: FieldIssue[]): string {
  return `Invalid input: ${issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`;
}
