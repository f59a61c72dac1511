import { accountListView, listAccountsInput, listTransactionsInput, transactionPageView } from '../../accounts/account.schemas.ts';
import { appProcedure, router } from '../trpc.ts';

export const accountsRouter = router({
  list: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/accounts',
        tags: ['accounts'],
        summary: "List a connection's accounts (connectionId) or a user's (userId)",
        protect: true,
      },
    })
    .input(listAccountsInput)
    .output(accountListView)
    .query(({ ctx, input }) => ctx.services.accounts.listAccounts(ctx.app.id, input)),
});

export const transactionsRouter = router({
  list: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/transactions',
        tags: ['transactions'],
        summary: "List an account's transactions (accountId) or a connection's (connectionId), newest first, a page at a time",
        protect: true,
      },
    })
    .input(listTransactionsInput)
    .output(transactionPageView)
    .query(({ ctx, input }) => ctx.services.accounts.listTransactions(ctx.app.id, input)),
});
