import type { FieldIssue } from '../../errors.ts';
import { boundIssues, describeIssues, type IssueList } from '../error-map.ts';

/**
 * The body of every REST error: the tRPC code, a message that names the field, the field issues (the first 20, as
 * tRPC's errors list them), and the request id the log knows the request by.
 */
export interface RestErrorBody {
  code: string;
  message: string;
  issues?: FieldIssue[];
  /** How many issues there were; `issues` lists the first 20. */
  issueCount?: number;
  details?: Record<string, unknown>;
  requestId: string | null;
}

/** What trpc-to-openapi writes for an error: our errorFormatter's shape, with its own `message` and `issues` over it. */
interface AdapterErrorBody {
  code?: unknown;
  message?: unknown;
  data?: { requestId?: string; issues?: FieldIssue[] | null; issueCount?: number | null; details?: Record<string, unknown> | null };
}

/**
 * The adapter replaces a validation error's message with "Input validation failed" and adds zod's raw issues; the
 * shape our errorFormatter made (src/api/trpc.ts) is still under `data`, so the body is rebuilt from it.
 */
export function restErrorFromAdapter(body: AdapterErrorBody, requestId: string): RestErrorBody {
  const data = body.data ?? {};
  const code = typeof body.code === 'string' ? body.code : 'INTERNAL_SERVER_ERROR';
  const issues = data.issues ?? undefined;
  return {
    code,
    message: issues?.length
      ? describeIssues({ issues, total: data.issueCount ?? issues.length })
      : typeof body.message === 'string'
        ? body.message
        : code,
    ...(issues?.length ? { issues, issueCount: data.issueCount ?? issues.length } : {}),
    ...(data.details ? { details: data.details } : {}),
    requestId: data.requestId ?? requestId,
  };
}

/** An error found before a procedure runs (a body that is not JSON, too large, a wrong content type). */
export function restError(code: string, message: string, requestId: string, issues?: FieldIssue[]): RestErrorBody {
  const list: IssueList | null = issues ? boundIssues(issues) : null;
  return {
    code,
    message: list ? describeIssues(list) : message,
    ...(list ? { issues: list.issues, issueCount: list.total } : {}),
    requestId,
  };
}
