import type { ConnectionError, Job, JobKind, JobStatus, JobStep } from '../../entities/index.ts';

export interface JobView {
  id: string;
  connectionId: string;
  kind: JobKind;
  status: JobStatus;
  steps: JobStep[];
  error: ConnectionError | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const date = (d: Date | string | null) => (d === null ? null : new Date(d));

export function presentJob(j: Job): JobView {
  return {
    id: j.id,
    connectionId: j.connectionId,
    kind: j.kind,
    status: j.status,
    // jsonb: dates come back as strings.
    steps: j.steps.map((s) => ({ ...s, startedAt: date(s.startedAt), finishedAt: date(s.finishedAt) })),
    error: j.error,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
  };
}
