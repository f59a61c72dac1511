import type { CredentialField, Dataset, Institution } from '../../entities/index.ts';

/** `enabled` is the operator's: left out, so a start never re-enables a sandbox institution they disabled. */
type SeedInstitution = Omit<Institution, 'createdAt' | 'updatedAt' | 'enabled'>;

const ALL: Dataset[] = ['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION', 'USER_INFO'];

const loginAndPassword: CredentialField[] = [
  { name: 'loginId', label: 'Login ID', secret: false, required: true },
  { name: 'password', label: 'Password', secret: true, required: true },
  { name: 'securityCode', label: 'Security code', secret: true, required: false },
];

/**
 * The sandbox institutions, upserted on every start when SANDBOX_INSTITUTIONS is on (development and test by
 * default, never by default in production), so code and database agree. The built-in ones are served by the
 * sandbox provider in process; AU00100 is the same sandbox behind the plug-in HTTP protocol (`npm run
 * provider:sandbox`). The loginId chooses the scripted outcome (README, "Trying the sandbox").
 */
export function seededInstitutions(sandboxPluginUrl: string): SeedInstitution[] {
  return [
    ...BUILT_IN_INSTITUTIONS,
    {
      id: 'AU00100',
      name: 'Plug-in Sandbox Bank (HTTP)',
      country: 'AU',
      providerKey: 'sandbox-plugin',
      method: 'plug-in',
      providerUrl: sandboxPluginUrl,
      bankCode: null,
      datasets: ALL,
      credentialFields: loginAndPassword,
      signIn: 'credentials',
      minRefreshIntervalMinutes: 60,
      status: 'operational',
    },
    {
      // The redirect bank of the sandbox behind the plug-in protocol: its sign-in page is the reference provider's.
      id: 'AU00300',
      name: 'Plug-in OAuth Bank (HTTP, redirect)',
      country: 'AU',
      providerKey: 'sandbox-plugin',
      method: 'plug-in',
      providerUrl: sandboxPluginUrl,
      bankCode: null,
      datasets: ALL,
      credentialFields: [],
      signIn: 'redirect',
      minRefreshIntervalMinutes: 60,
      status: 'operational',
    },
  ];
}

const BUILT_IN_INSTITUTIONS: SeedInstitution[] = [
  {
    // Open banking as it is: no credentials to the service; the user signs in and consents on the bank's own page
    // (the sandbox's, served by this service at /sandbox/bank) and comes back.
    id: 'AU00200',
    name: 'Sandbox OAuth Bank (Redirect)',
    country: 'AU',
    providerKey: 'sandbox',
    method: 'built-in',
    providerUrl: null,
    bankCode: null,
    datasets: ALL,
    credentialFields: [],
    signIn: 'redirect',
    minRefreshIntervalMinutes: 60,
    status: 'operational',
  },
  {
    id: 'AU00000',
    name: 'Hooli Bank (Sandbox)',
    country: 'AU',
    providerKey: 'sandbox',
    method: 'built-in',
    providerUrl: null,
    bankCode: null,
    datasets: ALL,
    credentialFields: loginAndPassword,
    signIn: 'credentials',
    minRefreshIntervalMinutes: 60,
    status: 'operational',
  },
  {
    id: 'AU00001',
    name: 'Pied Piper Credit Union (Sandbox)',
    country: 'AU',
    providerKey: 'sandbox',
    method: 'built-in',
    providerUrl: null,
    bankCode: null,
    datasets: ['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION'],
    credentialFields: loginAndPassword,
    signIn: 'credentials',
    minRefreshIntervalMinutes: 240,
    status: 'operational',
  },
  {
    // finAPI's demo bank: importable with no credentials at all.
    id: 'DE00000',
    name: 'finAPI Demo Bank (Sandbox)',
    country: 'DE',
    providerKey: 'sandbox',
    method: 'built-in',
    providerUrl: null,
    bankCode: '00000000',
    datasets: ALL,
    credentialFields: [
      { name: 'loginId', label: 'Online banking user ID', secret: false, required: false },
      { name: 'password', label: 'PIN', secret: true, required: false },
    ],
    signIn: 'credentials',
    minRefreshIntervalMinutes: 15,
    status: 'operational',
  },
  {
    id: 'GB00000',
    name: 'Sandbox Building Society',
    country: 'GB',
    providerKey: 'sandbox',
    method: 'built-in',
    providerUrl: null,
    bankCode: null,
    datasets: ['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION'],
    credentialFields: [
      { name: 'loginId', label: 'Customer number', secret: false, required: true },
      { name: 'password', label: 'Passcode', secret: true, required: true },
    ],
    signIn: 'credentials',
    minRefreshIntervalMinutes: 60,
    status: 'operational',
  },
];
