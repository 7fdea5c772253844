import { Redis, Cluster, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * redis:// and rediss:// connect directly; redis-sentinel://host:port,host:port/name and
 * redis-cluster://host:port,host:port use Sentinel and Cluster.
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const parsed = new URL(url);
  const hosts = parsed.host.split(',').map((entry) => {
    const [host, port] = entry.split(':');
    return { host: host!, port: Number(port || 6379) };
  });
  const auth = { username: decodeURIComponent(parsed.username) || undefined, password: decodeURIComponent(parsed.password) || undefined };
  // Auto-pipelining sends the commands issued in one event-loop tick in one write: introspection's
  // parallel lookups, a rate limit's and a session's reads cost one system call instead of several.
  // Fail fast during an outage: a command queued while reconnecting fails after one failed
  // reconnection or commandTimeout, whichever comes first, so the offline queue never grows unbounded in time.
  // Reconnection itself goes on forever (backoff capped at 1 s), so recovery needs no restart.
  const base: RedisOptions = {
    maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false, enableAutoPipelining: true,
    connectTimeout: 2000, commandTimeout: 1000, retryStrategy: (times) => Math.min(times * 100, 1000), ...options,
  };
  if (parsed.protocol === 'redis-cluster:') {
    // MULTI and scripts span a record, its pointers and its grant list: a hash tag keeps them in one slot.
    const keyPrefix = base.keyPrefix ? `{${base.keyPrefix}}` : '{pcl}';
    return new Cluster(hosts, { keyPrefix, enableAutoPipelining: true, redisOptions: { ...base, ...auth, keyPrefix } });
  }
  if (parsed.protocol === 'redis-sentinel:') {
    return new Redis({ ...base, ...auth, sentinels: hosts, name: parsed.pathname.slice(1) || 'mymaster' });
  }
  return new Redis(url, base);
}
