/**
 * One error base for the whole project (after viem's `BaseError`): a short message for people, an optional
 * hint saying what to do, details, and the original error as `cause`. Subclasses fix `name`.
 * Messages never contain secrets: URLs are stripped of credentials by `redactUrl`.
 */
export type TreasuryErrorOptions = {
  cause?: unknown;
  /** What the user can do about it. */
  hint?: string;
  /** Extra facts (call index, path, values), shown on their own lines. */
  details?: string[];
};

export class TreasuryError extends Error {
  override name = 'TreasuryError';
  readonly shortMessage: string;
  readonly hint: string | undefined;
  readonly details: string[];

  constructor(shortMessage: string, options: TreasuryErrorOptions = {}) {
    // First line: what is wrong → what to do. Details follow on their own lines.
    const first = options.hint ? `${shortMessage} → ${options.hint}` : shortMessage;
    super(
      [first, ...(options.details ?? [])].join('\n'),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.shortMessage = shortMessage;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }

  /** Follows the `cause` chain and returns the deepest error (or the first one `predicate` accepts). */
  walk(predicate?: (error: unknown) => boolean): unknown {
    let current: unknown = this;
    while (current) {
      if (predicate?.(current)) return current;
      const next = (current as { cause?: unknown }).cause;
      if (!next) return predicate ? undefined : current;
      current = next;
    }
    return undefined;
  }
}

/** Bad configuration: names the path of the offending field. */
export class ConfigError extends TreasuryError {
  override name = 'ConfigError';
}

/** A local process (anvil, hub) could not be started or stopped. */
export class ProcessError extends TreasuryError {
  override name = 'ProcessError';
}

/** A chain read or write failed (RPC unreachable, revert, unexpected state). */
export class ChainError extends TreasuryError {
  override name = 'ChainError';
}

/** A transaction was refused before anything was sent (guardrail, allowlist, hash mismatch). */
export class RefusedError extends TreasuryError {
  override name = 'RefusedError';
}

/** Market data is missing, stale, zero, negative or inconsistent. */
export class MarketDataError extends TreasuryError {
  override name = 'MarketDataError';
}

/** Removes user:password and query-string secrets from a URL before it is shown anywhere. */
export function redactUrl(url: string): string {
  try {
    return redactedUrl(url) ?? new URL(url).toString();
  } catch {
    return '<invalid url>';
  }
}

/** The URL without its credentials, or undefined when it holds none ('<invalid url>' when it does not parse). */
function redactedUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    let changed = false;
    if (parsed.username || parsed.password) {
      parsed.username = '***';
      parsed.password = '';
      changed = true;
    }
    for (const key of [...parsed.searchParams.keys()]) {
      if (/key|token|secret|auth|pass|sig/i.test(key)) {
        parsed.searchParams.set(key, '***');
        changed = true;
      }
    }
    // Path segments that look like API keys (e.g. /v2/<32+ hex or base64>) are hidden too.
    const pathname = parsed.pathname.replace(/\/[A-Za-z0-9_-]{24,}(?=\/|$)/g, '/***');
    if (pathname !== parsed.pathname) {
      parsed.pathname = pathname;
      changed = true;
    }
    return changed ? parsed.toString() : undefined;
  } catch {
    return '<invalid url>';
  }
}

/**
 * Redacts every URL in a text (credentials, key-like query values and path segments); a URL without any stays
 * as written (the CLI passes every printed line through this).
 */
export function redactUrlsIn(text: string): string {
  return text.replace(/https?:\/\/[^\s"'<>)]+/g, (url) => redactedUrl(url) ?? url);
}

/** For a person: what is wrong and what to do on the first line (`message → hint`), details below it. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
