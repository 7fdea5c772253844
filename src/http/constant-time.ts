import { timingSafeEqual } from 'node:crypto';

/** String equality whose time doesn't depend on where the strings differ. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
