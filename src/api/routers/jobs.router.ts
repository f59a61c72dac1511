import { answerChallengeInput, jobIdInput, jobListView, jobView, listJobsInput } from '../../jobs/job.schemas.ts';
import { appProcedure, idempotent, router } from '../trpc.ts';

export const jobsRouter = router({
  get: appProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/jobs/{id}',
        tags: ['jobs'],
        summary: 'Get a job: its steps, its error, the challenge it waits on',
        protect: true,
      },
    })
    .input(jobIdInput)
    .output(jobView)
    .query(({ ctx, input }) => ctx.services.jobs.get(ctx.app.id, input.id)),

  list: appProcedure
    .meta({ openapi: { method: 'GET', path: '/jobs', tags: ['jobs'], summary: "List a connection's jobs, newest first", protect: true } })
    .input(listJobsInput)
    .output(jobListView)
    .query(({ ctx, input }) => ctx.services.jobs.list(ctx.app.id, input.connectionId, input.limit)),

  answerChallenge: appProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/jobs/{id}/challenge',
        tags: ['jobs'],
        summary: "Answer the challenge a job waits on (the user's one-time code)",
        protect: true,
      },
    })
    .input(answerChallengeInput)
    .output(jobView)
    .mutation(idempotent(({ ctx, input }) => ctx.services.jobs.answerChallenge(ctx.app.id, input.id, input.response))),
});
