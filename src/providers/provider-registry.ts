import type { Institution } from '../../entities/index.ts';
import { HttpProvider } from './http/http-provider.ts';
import { ProviderError, type Provider } from './provider.ts';
import { DEFAULT_SANDBOX_OPTIONS, SandboxProvider, type SandboxOptions } from './sandbox/sandbox.provider.ts';

export interface ProviderRegistryOptions {
  sandbox?: SandboxOptions;
  http: { connectTimeoutMs: number; timeoutMs: number; token?: string };
}

/** The provider keys a `built-in` institution can name (the providers this process carries in code). */
export const BUILT_IN_PROVIDER_KEYS = ['sandbox'] as const;

/** Which Provider serves an institution: built-in ones by provider key, plug-ins by their URL. */
export class ProviderRegistry {
  private readonly builtIn: Map<string, Provider>;
  private readonly plugIns = new Map<string, Provider>();

  constructor(private readonly options: ProviderRegistryOptions) {
    this.builtIn = new Map<string, Provider>([
      [BUILT_IN_PROVIDER_KEYS[0], new SandboxProvider(options.sandbox ?? DEFAULT_SANDBOX_OPTIONS)],
    ]);
  }

  forInstitution(institution: Pick<Institution, 'id' | 'method' | 'providerKey' | 'providerUrl'>): Provider {
    if (institution.method === 'plug-in') {
      if (!institution.providerUrl) {
        throw new ProviderError('permanent', `institution ${institution.id} is a plug-in without a provider URL`, {
          code: 'provider-not-configured',
        });
      }
      let provider = this.plugIns.get(institution.providerUrl);
      if (!provider) {
        provider = new HttpProvider({ baseUrl: institution.providerUrl, ...this.options.http });
        this.plugIns.set(institution.providerUrl, provider);
      }
      return provider;
    }
    const provider = this.builtIn.get(institution.providerKey);
    if (!provider) {
      throw new ProviderError('permanent', `no built-in provider "${institution.providerKey}"`, { code: 'provider-not-configured' });
    }
    return provider;
  }
}
