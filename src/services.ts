import { AccountService } from './accounts/account.service.ts';
import { AppService } from './apps/app.service.ts';
import { ConnectionService } from './connections/connection.service.ts';
import type { Deps } from './deps.ts';
import { InstitutionService } from './institutions/institution.service.ts';
import { JobService } from './jobs/job.service.ts';

export interface Services {
  apps: AppService;
  institutions: InstitutionService;
  connections: ConnectionService;
  jobs: JobService;
  accounts: AccountService;
}

export function createServices(deps: Deps): Services {
  return {
    apps: new AppService(deps),
    institutions: new InstitutionService(deps),
    connections: new ConnectionService(deps),
    jobs: new JobService(deps),
    accounts: new AccountService(deps),
  };
}
