/** The retry schedule of the outbox: exponential, capped, with jitter. */
export interface BackoffSettings { backoffBaseSeconds: number; backoffMaxSeconds: number }

/**
 * Delay before attempt `attempts + 1`: base·2^(attempts−1), capped, then "equal jitter" (half fixed,
 * half random) so messages that failed together during an outage don't all retry in the same instant.
 */
export function retryDelayMs(attempts: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const exponential = settings.backoffBaseSeconds * 2 ** Math.max(0, attempts - 1);
  const capped = Math.min(settings.backoffMaxSeconds, exponential) * 1000;
  return Math.round(capped / 2 + (capped / 2) * random());
}

/**
 * The reason stored in last_error and the audit trail: the error's own message, shortened, with
 * every URL (a link may carry a token) and any six-digit run (a one-time code) taken out.
 */
export function safeErrorText(error: unknown): string {
  const named = (e: Error) => `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`;
  const raw = error instanceof Error ? named(error) : String(error);
  return raw.replace(/https?:\/\/\S+/g, '[link]').replace(/\b\d{6}\b/g, '[code]').replace(/\s+/g, ' ').slice(0, 300);
}
