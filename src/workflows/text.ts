/** Small text helpers for workflow code (deterministic, no I/O). */

/** The reason in an error, looking through the `cause` Temporal wraps activity failures in. */
export function messageOf(err: unknown): string {
  if (err && typeof err === 'object') {
    // Activity failures wrap the real reason in `cause`.
    const cause = (err as { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && 'message' in cause)
      return String((cause as { message: unknown }).message);
    if ('message' in err) return String((err as { message: unknown }).message);
  }
  return String(err);
}

/** A time left, for people: "4h 59m", "12m 30s", "45s" (workflow clocks carry milliseconds nobody wants to read). */
export function formatRemaining(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h) return `${h}h${m ? ` ${m}m` : ''}`;
  if (m) return `${m}m${s % 60 ? ` ${s % 60}s` : ''}`;
  return `${s}s`;
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The ApplicationFailure type of an activity failure (classify by fields, never by class across modules). */
export function failureTypeOf(err: unknown): string | undefined {
  const cause = (err as { cause?: { type?: unknown } } | undefined)?.cause;
  const type = cause?.type ?? (err as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * Waits for every branch (so each records its result, and nothing is left running behind a failure), then fails with
 * the first failure in the branches' order, if any; else their values. A branch may be a plain value (a step not asked).
 */
export async function allOrFirstFailure<B extends readonly unknown[]>(branches: readonly [...B]): Promise<ValuesOf<B>> {
  const settled = await Promise.allSettled(branches);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as ValuesOf<B>;
}

type ValuesOf<B extends readonly unknown[]> = { -readonly [K in keyof B]: Awaited<B[K]> };
