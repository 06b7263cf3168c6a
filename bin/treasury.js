#!/usr/bin/env node
// The `treasury` CLI. Sources are TypeScript and a fresh `npm ci` needs no build step: the first run bundles them
// (bin/prebuiltCli.js, rebuilt when a source changes), and whatever prevents that runs them through tsx instead.
import { prebuiltCli } from './prebuiltCli.js';

if (process.env.TREASURY_DEBUG) process.setSourceMapsEnabled(true); // stack traces point at the sources
const bundled = await prebuiltCli();
let cli;
if (bundled) {
  cli = await import(bundled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../cli/cli.ts');
}
process.exitCode = await cli.main(process.argv.slice(2));
