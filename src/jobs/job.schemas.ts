import { z } from 'zod';
import { CHALLENGE_TYPES, JOB_KINDS, JOB_STATUSES, STEP_STATUSES, STEP_TITLES } from '../../entities/index.ts';
import { connectionErrorView } from '../connection-error.schemas.ts';
import { dateTime, inputObject, intParam } from '../validation.ts';

export const jobIdInput = inputObject({ id: z.uuid({ message: 'must be a job id (uuid)' }) });
export const listJobsInput = inputObject({
  connectionId: z.uuid({ message: 'must be a connection id (uuid)' }),
  limit: intParam(1, 200).default(50),
});
export const answerChallengeInput = inputObject({
  id: z.uuid({ message: 'must be a job id (uuid)' }),
  response: z.string().trim().min(1, 'must not be empty').max(1024),
});

// Output schemas.

const jobStepView = z.object({
  title: z.enum(STEP_TITLES),
  status: z.enum(STEP_STATUSES),
  startedAt: dateTime.nullable(),
  finishedAt: dateTime.nullable(),
  error: connectionErrorView.nullable(),
});

const jobChallengeView = z.object({
  id: z.string(),
  message: z.string(),
  type: z.enum(CHALLENGE_TYPES),
  expiresAt: dateTime,
  redirectUrl: z.string().nullable().optional(),
});

export const jobView = z
  .object({
    id: z.guid(),
    connectionId: z.guid(),
    kind: z.enum(JOB_KINDS),
    status: z.enum(JOB_STATUSES),
    steps: z.array(jobStepView),
    error: connectionErrorView.nullable(),
    challenge: jobChallengeView.nullable(),
    attempts: z.number().int(),
    runAt: dateTime,
    createdAt: dateTime,
    updatedAt: dateTime,
    startedAt: dateTime.nullable(),
    finishedAt: dateTime.nullable(),
  })
  .meta({ id: 'Job' });
export const jobListView = z.array(jobView);
