/**
 * `@baton/resource-server/redis`: state shared by the instances of one resource. A subpath of its own
 * so that a resource without Redis never loads the `redis` client (an optional peer).
 */
export {
  type RedisDpopReplayClient,
  RedisDpopReplayStore,
  type RedisDpopReplayStoreOptions,
} from './dpop-replay-store.ts';
