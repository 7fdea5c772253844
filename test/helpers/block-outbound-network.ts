import net from 'node:net';

// Tests reach only loopback: any other destination fails loudly instead of leaking traffic.
const loopback = /^(127\.|::1$|localhost$|::ffff:127\.)/;
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function patchedConnect(this: net.Socket, ...args: unknown[]) {
  const first = args[0] as { host?: string; path?: string; port?: number } | number | string;
  const host = typeof first === 'object' && first !== null ? first.host ?? (first.path ? 'localhost' : 'localhost')
    : typeof first === 'number' ? (typeof args[1] === 'string' ? args[1] : 'localhost') : 'localhost';
  if (!loopback.test(host)) throw new Error(`outbound network blocked in tests: ${host}`);
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
