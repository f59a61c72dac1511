import type { Dataset, JobStep, StepTitle } from '../../entities/index.ts';

/**
 * The steps a job runs for a set of datasets (Basiq's job steps). Credentials are always verified; accounts are
 * needed for balances and transactions; transactions only when asked for.
 */
export function plannedStepTitles(datasets: readonly Dataset[]): StepTitle[] {
  const titles: StepTitle[] = ['verify-credentials'];
  if (datasets.some((d) => d === 'BANK_ACCOUNT' || d === 'BANK_BALANCE' || d === 'BANK_TRANSACTION')) {
    titles.push('retrieve-accounts');
  }
  if (datasets.includes('BANK_TRANSACTION')) titles.push('retrieve-transactions');
  return titles;
}

export function plannedSteps(datasets: readonly Dataset[]): JobStep[] {
  return plannedStepTitles(datasets).map((title) => ({
    title,
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    error: null,
  }));
}
