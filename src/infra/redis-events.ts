import type { DependencyHealth } from './dependency-health.js';
import type { RedisClient } from './redis.js';

/**
 * ioredis prints "[ioredis] Unhandled error event" with a stack to stderr for every failed
 * reconnection unless someone listens: these listeners turn connection changes into the health
 * tracker's one-line state changes instead.
 */
export function watchRedis(redis: RedisClient, health: DependencyHealth): void {
  redis.on('error', (error: Error) => health.connectionLost('redis', error));
  redis.on('ready', () => health.connectionRestored('redis'));
  // A Cluster reports each node's failure separately; the cluster-level 'error' covers the rest.
  redis.on('node error', (error: Error) => health.connectionLost('redis', error));
}
