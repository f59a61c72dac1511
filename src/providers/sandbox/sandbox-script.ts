/**
 * The sandbox's scripted outcomes, chosen by loginId (README: "Trying the sandbox"). Shared by the built-in
 * sandbox provider and the reference plug-in provider server, so both behave the same.
 */
export const SANDBOX_SCRIPTS = {
  success: 'Any loginId not below: accounts, balances and transactions import.',
  invalid: 'The bank rejects the credentials (also: any loginId with password "wrong").',
  challenge: 'Multi-step authentication on first import: answer "123456" (anything else fails).',
  timeout: 'The bank never answers in time: retried with backoff, then the job fails (technical).',
  'rate-limited': 'HTTP 429 with Retry-After on the first two tries, then success.',
  flaky: 'HTTP 503 on the first two tries, then success.',
  'consent-expired': 'Imports fine; on the next refresh the bank says consent has expired (status EXPIRED).',
  revoked: 'Imports fine; on the next refresh the bank says access was revoked (status DISCONNECTED).',
  outage: 'Imports fine; every later refresh finds the bank down (HTTP 503): retried, then the job fails (technical).',
  large: '25 accounts with about 200 transactions each (about 5,000 rows) for load.',
  medium: "10 accounts with about 200 transactions each (about 2,000 rows): the refresh benchmark's user.",
  slow: 'Every call to the bank takes about a second: watch the steps move in jobs.get.',
  decoupled: 'On first import the bank asks the user to approve in its app (a DECOUPLED challenge); it confirms by itself about 3 s later.',
} as const;
export type SandboxScript = keyof typeof SANDBOX_SCRIPTS;

export const SANDBOX_CHALLENGE_ANSWER = '123456';
/** Tries (claims of the job) that fail before success, for rate-limited and flaky. */
export const SANDBOX_FAILING_TRIES = 2;
/** The sandbox's decoupled approval comes this long after the challenge. */
export const SANDBOX_DECOUPLED_DELAY_MS = 3_000;
/** Institutions of the sandbox that sign users in on the bank's own page (REDIRECT), never with credentials. */
export const SANDBOX_REDIRECT_INSTITUTIONS: ReadonlySet<string> = new Set(['AU00200', 'AU00300']);

export function sandboxScriptFor(credentials: Record<string, string>, connectionName: string | null): SandboxScript {
  const loginId = (credentials.loginId ?? '').trim().toLowerCase();
  if (credentials.password === 'wrong') return 'invalid';
  // finAPI's demo bank asks for multi-step authentication when the connection is named "MSA".
  if (connectionName === 'MSA') return 'challenge';
  return loginId in SANDBOX_SCRIPTS ? (loginId as SandboxScript) : 'success';
}
