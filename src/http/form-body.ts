import type { Context } from 'koa';
import { AppError } from '../errors/app-error.js';
import { bufferedBody } from './hostile-input.js';

const maxBytes = 64 * 1024;

async function readBody(ctx: Context): Promise<string> {
  // The edge (hostile-input.ts) has read and checked the body already.
  const checked = bufferedBody(ctx.req);
  if (checked) {
    if (checked.length > maxBytes) throw new AppError('payload_too_large', 413, 'the request body is too large');
    return checked.toString('utf8');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new AppError('payload_too_large', 413, 'the request body is too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads an application/x-www-form-urlencoded body (bounded) into a plain object. */
export async function readForm(ctx: Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new AppError('unsupported_media_type', 415, 'expected a form submission');
  return Object.fromEntries(new URLSearchParams(await readBody(ctx)));
}

/** Reads a JSON body (bounded); the caller validates its shape. */
export async function readJson(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 415, 'expected JSON');
  try {
    return JSON.parse(await readBody(ctx)) as unknown;
  } catch {
    throw new AppError('invalid_json', 400, 'the body is not valid JSON');
  }
}
