import type { Job } from '../../entities/index.ts';
import type { Provider, ProviderContext, ProviderSession } from '../providers/provider.ts';
import { challengeBinding, type CredentialCipher } from '../security/credential-cipher.ts';

/**
 * verify-credentials: signs in at the provider, or, when the run resumes after a challenge, hands it the user's
 * answer (stored sealed on the job). Its session is what the other steps use.
 */
export function verifyCredentials(
  cipher: CredentialCipher,
  provider: Provider,
  ctx: ProviderContext,
  job: Job,
  resuming: boolean,
): Promise<ProviderSession> {
  if (!resuming) return provider.verifyCredentials(ctx);
  const { response } = cipher.open(
    { ciphertext: job.challengeResponseCiphertext!, keyId: job.challengeResponseKeyId! },
    challengeBinding(job.appId, job.id),
  ) as { response: string };
  const challenge = { ...job.challenge!, expiresAt: new Date(job.challenge!.expiresAt) };
  return provider.answerChallenge(ctx, challenge, response);
}
