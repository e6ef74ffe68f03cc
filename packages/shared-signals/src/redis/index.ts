/**
 * `@baton/shared-signals/redis`: the Redis fast path between instances of one deployment. A subpath
 * of its own so that receivers without Redis never load the `redis` client (an optional peer).
 */
export {
  type RedisChannelClient,
  RedisRevocationChannel,
  type RedisRevocationChannelOptions,
  type RevocationSubscription,
  type RevocationSubscriptionOptions,
} from './revocation-channel.ts';
