/** Hosted Connect's settings. `publicUrl` is a getter's worth of state: a test learns its port after listening. */
export interface ConnectSettings {
  /** Where users' browsers reach the service, without a trailing slash. */
  publicUrl: string;
  sessionTtlMs: number;
  maxAttempts: number;
}

export const DEFAULT_CONNECT_SETTINGS: ConnectSettings = { publicUrl: 'http://localhost:3000', sessionTtlMs: 30 * 60_000, maxAttempts: 3 };

/** The bank's way back to the service: where a redirect institution sends the user after its sign-in page. */
export const callbackUrlOf = (settings: ConnectSettings) => `${settings.publicUrl}/connect/callback`;

/** The sandbox bank's sign-in pages, served by the service itself. */
export const sandboxBankUrlOf = (settings: ConnectSettings) => `${settings.publicUrl}/sandbox/bank`;
