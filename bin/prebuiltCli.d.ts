/** See prebuiltCli.js: the file URL of the bundled CLI (exports `main`), or undefined to run through tsx. */
export function prebuiltCli(options?: {
  /** The project (default: this file's parent directory). */
  root?: string;
  /** Relative to root (default: cli/cli.ts). */
  entry?: string;
  env?: Readonly<Record<string, string | undefined>>;
}): Promise<string | undefined>;
