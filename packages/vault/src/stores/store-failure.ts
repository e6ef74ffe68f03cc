import { VaultError } from '../errors.ts';

/**
 * Wraps a database client error. The message names the operation only: driver messages can quote
 * parameters, and a parameter here is a sealed record.
 */
export async function storeCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof VaultError || error instanceof TypeError) throw error;
    throw new VaultError('ERR_VAULT_STORE_FAILED', `vault store ${what} failed`, { cause: error });
  }
}
