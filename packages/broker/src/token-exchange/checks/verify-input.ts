import { refuse } from '../../grants/refusal.ts';
import { InputTokenError, type InputTokenVerifier, type VerifiedInputToken } from '../input-token.ts';

/** An input token verified, or refused as `invalid_request` with the verifier's reason (`subject_…`, `actor_…`). */
export async function verifyInput(
  inputs: InputTokenVerifier,
  token: string,
  role: 'subject' | 'actor',
): Promise<VerifiedInputToken> {
  try {
    return await inputs.verify(token, role);
  } catch (error) {
    if (error instanceof InputTokenError) throw refuse.request(`${role}_${error.reason}`, error.message);
    throw error;
  }
}
