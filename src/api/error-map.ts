import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { AppError } from '../errors.ts';
import { ErrorCode, formatPath, type FieldIssue } from '../errors.ts';

// The one place domain error codes become transport error codes.
const TRPC_CODE: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  [ErrorCode.VALIDATION]: 'BAD_REQUEST',
  [ErrorCode.UNAUTHORIZED]: 'UNAUTHORIZED',
  [ErrorCode.NOT_FOUND]: 'NOT_FOUND',
  [ErrorCode.CONFLICT]: 'CONFLICT',
  [ErrorCode.PRECONDITION_FAILED]: 'PRECONDITION_FAILED',
  [ErrorCode.RATE_LIMITED]: 'TOO_MANY_REQUESTS',
  [ErrorCode.QUOTA_EXCEEDED]: 'FORBIDDEN',
};

export function appErrorToTRPC(error: AppError): TRPCError {
  return new TRPCError({ code: TRPC_CODE[error.code], message: error.message, cause: error });
}

/**
 * At most this many field issues are listed in an error (with the total beside them): a request with 60,000
 * unknown keys must not get a 4 MB answer.
 */
export const MAX_ISSUES_SHOWN = 20;

/** Field issues, the first MAX_ISSUES_SHOWN of them, and how many there were in all. */
export interface IssueList {
  issues: FieldIssue[];
  total: number;
}

export function boundIssues(issues: readonly FieldIssue[]): IssueList {
  return { issues: issues.slice(0, MAX_ISSUES_SHOWN), total: issues.length };
}

interface SchemaIssue {
  path?: unknown[];
  message?: string;
  code?: string;
  keys?: string[];
  /** invalid_union: each alternative's own issues. */
  errors?: SchemaIssue[][];
}

const segment = (p: unknown): string | number =>
  typeof p === 'object' && p !== null && 'key' in p ? (p as { key: string | number }).key : (p as string | number);

/**
 * Of a union's alternatives, the one whose complaint says most: the one that got deepest into the value, and
 * otherwise one that did not just reject its type. ("filter.status[1]: Invalid option: expected one of …" rather
 * than "filter.status: Invalid input".)
 */
function closestAlternative(errors: SchemaIssue[][]): SchemaIssue[] {
  const depth = (issues: SchemaIssue[]) => Math.max(0, ...issues.map((i) => i.path?.length ?? 0));
  const typeOnly = (issues: SchemaIssue[]) => issues.every((i) => i.code === 'invalid_type' && !i.path?.length);
  return [...errors].sort((a, b) => depth(b) - depth(a) || Number(typeOnly(a)) - Number(typeOnly(b)))[0] ?? [];
}

/** Schema failures (zod via Standard Schema) as field issues; paths may be keys or `{ key }` segments. */
export function schemaIssues(cause: unknown): IssueList | null {
  const issues = (cause as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(issues)) return null;
  const shown: FieldIssue[] = [];
  let total = 0;
  const add = (issue: FieldIssue) => {
    total += 1;
    if (shown.length < MAX_ISSUES_SHOWN) shown.push(issue);
  };
  const walk = (list: SchemaIssue[], prefix: (string | number)[]) => {
    for (const i of list) {
      const path = [...prefix, ...(i.path ?? []).map(segment)];
      // An unknown key is an issue of the object; name the key itself, so the client sees which field to remove.
      if (i.code === 'unrecognized_keys' && Array.isArray(i.keys)) {
        for (const k of i.keys) add({ path: [...path, k], message: 'unknown field' });
      } else if (i.code === 'invalid_union' && Array.isArray(i.errors) && i.errors.length) {
        walk(closestAlternative(i.errors), path);
      } else add({ path, message: i.message ?? 'invalid' });
    }
  };
  walk(issues as SchemaIssue[], []);
  return { issues: shown, total };
}

export function describeIssues({ issues, total }: IssueList): string {
  const more = total > issues.length ? `; and ${total - issues.length} more` : '';
  return `Invalid input: ${issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}${more}`;
}
