import type { CredentialField, Dataset, Institution, InstitutionMethod, InstitutionStatus, SignInMethod } from '../../entities/index.ts';

/** An institution as apps see it (the plug-in provider URL is internal and left out). */
export interface InstitutionView {
  id: string;
  name: string;
  country: string;
  method: InstitutionMethod;
  serviceProvider: string;
  bankCode: string | null;
  datasets: Dataset[];
  credentialFields: CredentialField[];
  /** `credentials`: the user gives the fields above; `redirect`: the user signs in on the bank's own page. */
  signIn: SignInMethod;
  minRefreshIntervalMinutes: number;
  status: InstitutionStatus;
}

export function presentInstitution(i: Institution): InstitutionView {
  return {
    id: i.id,
    name: i.name,
    country: i.country,
    method: i.method,
    serviceProvider: i.providerKey,
    bankCode: i.bankCode,
    datasets: i.datasets,
    credentialFields: i.credentialFields,
    signIn: i.signIn,
    minRefreshIntervalMinutes: i.minRefreshIntervalMinutes,
    status: i.status,
  };
}
