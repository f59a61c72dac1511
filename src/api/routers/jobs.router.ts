import { answerChallengeInput, jobIdInput, listJobsInput } from '../../jobs/job.service.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

export const jobsRouter = router({
  get: appProcedure.input(jobIdInput).query(({ ctx, input }) => ctx.services.jobs.get(ctx.app.id, input.id)),

  list: appProcedure
    .input(listJobsInput)
    .query(({ ctx, input }) => ctx.services.jobs.list(ctx.app.id, input.connectionId, input.limit)),

  answerChallenge: appProcedure
    .input(answerChallengeInput)
    .mutation(idempotent(({ ctx, input }) => ctx.services.jobs.answerChallenge(ctx.app.id, input.id, input.response))),
});
