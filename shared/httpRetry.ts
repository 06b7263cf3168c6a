/**
 * Backoff for the hosted services' HTTP APIs (hub.snapshot.org, seq.snapshot.org, the Safe Transaction Service):
 * HTTP 429, 425 and 5xx and network failures are retried, waiting what the service asks (Retry-After) or an
 * exponential backoff; a wait longer than `maxRetryAfterMs` is not waited out. Sleeps are injected: tests never
 * wait.
 */
export type BackoffPolicy = {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff without Retry-After; doubles each attempt, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this ends the attempts at once (the caller reports the limit). */
  maxRetryAfterMs: number;
};

export const DEFAULT_BACKOFF: BackoffPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  maxRetryAfterMs: 120_000,
};

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Why an attempt should be retried: an HTTP reply (status, body text, headers) or a network failure. */
export type RetryReason = {
  status?: number;
  body?: string;
  headers?: Headers;
  error?: unknown;
  /** What the service asked for (Retry-After), in ms. */
  retryAfterMs?: number;
};

export type BackoffResult<T> =
  | { done: T }
  | {
      gaveUp: RetryReason;
      attempts: number;
      waitedMs: number;
      /** Set when the service asked to wait longer than `maxRetryAfterMs`. */
      askedMs?: number;
    };

/** A Retry-After header (seconds or an HTTP date) in milliseconds from `nowMs`, or undefined. */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (header.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Statuses worth retrying: rate limits (429), "already being processed" (425), server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 425 || status >= 500;
}

/**
 * A reply to retry (429/425/5xx, with its body read and its Retry-After), or the reply itself when it is final
 * (its body unread).
 */
export async function classifyReply(
  response: Response,
): Promise<{ done: Response } | { retry: RetryReason }> {
  if (!isRetryableStatus(response.status)) return { done: response };
  const body = await response.text().catch(() => '');
  return {
    retry: {
      status: response.status,
      body,
      headers: response.headers,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after'), Date.now()),
    },
  };
}

/** Runs `attempt(n)` (n from 1) until it is done, the attempts run out, or the service asks for too long a wait. */
export async function withBackoff<T>(
  attempt: (n: number) => Promise<{ done: T } | { retry: RetryReason }>,
  policy: BackoffPolicy,
  sleep: Sleep,
): Promise<BackoffResult<T>> {
  let waitedMs = 0;
  for (let n = 1; ; n++) {
    const outcome = await attempt(n);
    if ('done' in outcome) return outcome;
    const reason = outcome.retry;
    if (reason.retryAfterMs !== undefined && reason.retryAfterMs > policy.maxRetryAfterMs) {
      return { gaveUp: reason, attempts: n, waitedMs, askedMs: reason.retryAfterMs };
    }
    if (n >= policy.attempts) return { gaveUp: reason, attempts: n, waitedMs };
    const wait = reason.retryAfterMs ?? Math.min(policy.baseDelayMs * 2 ** (n - 1), policy.maxDelayMs);
    await sleep(wait);
    waitedMs += wait;
  }
}

/** "42 s", "3 min", "2 h", "5 days": for messages about limits. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** How the retries ended, for a limit message: "5 attempts over 31 s", or what Retry-After asked when too long. */
export function retriesSpent(input: { attempts: number; waitedMs: number; askedMs?: number }): {
  tried: string;
  waitedOrAsked: string;
} {
  const tried = `${input.attempts} attempt${input.attempts === 1 ? '' : 's'} over ${humanDuration(input.waitedMs)}`;
  const waitedOrAsked =
    input.askedMs !== undefined
      ? `it asks to wait ${humanDuration(input.askedMs)} (Retry-After), longer than the agent waits`
      : tried;
  return { tried, waitedOrAsked };
}
