/**
 * Polls (real time) until `ok()` holds: for something a test cannot await directly (a worker's scrape, a stub being
 * called). The bound only turns a hang into a readable failure that names `what`; it never asserts a duration.
 */
export async function waitUntil(
  ok: () => boolean | Promise<boolean>,
  what = 'the condition',
  { timeoutMs = 30_000, everyMs = 50 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > giveUp) throw new Error(`gave up waiting for ${what} (${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
