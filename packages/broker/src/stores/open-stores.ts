import type { AdapterFactory } from 'oidc-provider';
import type { BrokerConfig } from '../config.ts';
import { MemoryTokenRegistry } from '../registry/memory-registry.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { createMemoryAdapterFactory } from './memory-adapter.ts';

export interface BrokerStores {
  registry: TokenRegistry;
  adapter: AdapterFactory;
  close(): Promise<void>;
}

/** The embedded store by default; PostgreSQL (state) and Redis (revocation sets) in production. */
export async function openStores(store: BrokerConfig['store']): Promise<BrokerStores> {
  if (store.kind === 'embedded') {
    const registry = new MemoryTokenRegistry();
    return { registry, adapter: createMemoryAdapterFactory(), close: () => registry.close() };
  }
  throw new Error('the postgres-redis store is not wired in yet');
}
