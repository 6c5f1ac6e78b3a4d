/**
 * Free worker slots through a fleet, from the worker's own Prometheus metrics (`PHOENIX_METRICS_PORT`): the SDK's
 * `temporal_worker_task_slots_available` gauge per kind of slot, read every `everyMs`. A task waits for a slot only
 * while its kind has none free (the SDK polls only with a free slot in hand), so a fleet whose every sample shows a
 * free slot of each kind made no task wait for one: what is left of scheduled → started is the server's dispatch.
 */
import http from 'node:http';

/** The SDK's kinds of slot, as its `worker_type` label names them. */
export const SLOT_KINDS = ['WorkflowWorker', 'ActivityWorker', 'LocalActivityWorker'] as const;
export type SlotKind = (typeof SLOT_KINDS)[number];

export interface SlotWatch {
  /** Scrapes that answered. */
  samples: number;
  /** The fewest free slots seen, per kind (absent: the gauge never showed that kind). */
  minFree: Partial<Record<SlotKind, number>>;
  /** Scrapes in which a kind had no free slot. */
  samplesWithoutFreeSlot: Partial<Record<SlotKind, number>>;
}

/** `temporal_worker_task_slots_available{…,worker_type="X",…} N` lines → the free slots per kind. */
export function parseFreeSlots(metricsText: string): Partial<Record<SlotKind, number>> {
  const free: Partial<Record<SlotKind, number>> = {};
  for (const line of metricsText.split('\n')) {
    const m = /^(?:temporal_)?worker_task_slots_available\{([^}]*)\}\s+([0-9.eE+-]+)/.exec(line);
    const kind = m && /worker_type="([A-Za-z]+)"/.exec(m[1])?.[1];
    if (!m || !kind || !(SLOT_KINDS as readonly string[]).includes(kind)) continue;
    // One worker per process here; with more, the fewest free of any counts.
    free[kind as SlotKind] = Math.min(free[kind as SlotKind] ?? Infinity, Number(m[2]));
  }
  return free;
}

function scrape(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Reads the worker's free slots every `everyMs` until stopped. */
export function watchSlots(metricsPort: number, everyMs = 250): { stop(): Promise<SlotWatch> } {
  const watch: SlotWatch = { samples: 0, minFree: {}, samplesWithoutFreeSlot: {} };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const text = await scrape(metricsPort);
      if (text !== undefined) {
        const free = parseFreeSlots(text);
        if (Object.keys(free).length) watch.samples++;
        for (const [kind, n] of Object.entries(free) as [SlotKind, number][]) {
          watch.minFree[kind] = Math.min(watch.minFree[kind] ?? Infinity, n);
          if (n <= 0) watch.samplesWithoutFreeSlot[kind] = (watch.samplesWithoutFreeSlot[kind] ?? 0) + 1;
        }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return watch;
    },
  };
}

/** Whether no task can have waited for a slot: every scrape showed a free slot of every kind. */
export function neverOutOfSlots(watch: SlotWatch): boolean {
  return watch.samples > 0 && SLOT_KINDS.every((k) => (watch.minFree[k] ?? 0) > 0);
}
