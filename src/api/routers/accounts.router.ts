import { listAccountsInput, listTransactionsInput } from '../../accounts/account.schemas.ts';
import { appProcedure, router } from '../trpc.ts';

export const accountsRouter = router({
  list: appProcedure.input(listAccountsInput).query(({ ctx, input }) => ctx.services.accounts.listAccounts(ctx.app.id, input)),
});

export const transactionsRouter = router({
  list: appProcedure
    .input(listTransactionsInput)
    .query(({ ctx, input }) => ctx.services.accounts.listTransactions(ctx.app.id, input)),
});
