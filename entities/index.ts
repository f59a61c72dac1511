import { Application } from './application.entity.ts';
import { Connection } from './connection.entity.ts';
import { Institution } from './institution.entity.ts';
import { Job } from './job.entity.ts';

export * from './application.entity.ts';
export * from './connection.entity.ts';
export * from './institution.entity.ts';
export * from './job.entity.ts';

/** Every table the service owns; the DataSource registers exactly these. */
export const entities = [Application, Institution, Connection, Job];
