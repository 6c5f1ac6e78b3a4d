/**
 * Free slots from a worker's Prometheus text: the lines below are what an SDK 1.24 worker served (captured from a
 * real worker with 1000 activity slots), so the parser reads the real format.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from '../harness/wait';
import { neverOutOfSlots, parseFreeSlots, watchSlots, type SlotWatch } from '../../src/bench/slots';

const SERVED = `# HELP temporal_worker_task_slots_available Current number of available slots per task type
# TYPE temporal_worker_task_slots_available gauge
temporal_worker_task_slots_available{namespace="default",service_name="temporal-core-sdk",task_queue="q3",worker_type="ActivityWorker"} 1000
temporal_worker_task_slots_available{namespace="default",service_name="temporal-core-sdk",task_queue="q3",worker_type="LocalActivityWorker"} 100
temporal_worker_task_slots_available{namespace="default",service_name="temporal-core-sdk",task_queue="q3",worker_type="WorkflowWorker"} 40
# HELP temporal_worker_task_slots_used Current number of used slots per task type
# TYPE temporal_worker_task_slots_used gauge
temporal_worker_task_slots_used{namespace="default",service_name="temporal-core-sdk",task_queue="q3",worker_type="ActivityWorker"} 0
`;

describe('worker slots from its metrics', () => {
  it('reads the free slots per kind, and only the available gauge', () => {
    expect(parseFreeSlots(SERVED)).toEqual({ ActivityWorker: 1000, LocalActivityWorker: 100, WorkflowWorker: 40 });
  });

  it('a fleet never out of slots needs a free slot of every kind in every sample, and samples at all', () => {
    const full: SlotWatch = {
      samples: 10,
      minFree: { ActivityWorker: 3, LocalActivityWorker: 100, WorkflowWorker: 1 },
      samplesWithoutFreeSlot: {},
    };
    expect(neverOutOfSlots(full)).toBe(true);
    expect(neverOutOfSlots({ ...full, minFree: { ...full.minFree, WorkflowWorker: 0 } })).toBe(false);
    expect(neverOutOfSlots({ ...full, minFree: { ActivityWorker: 3, WorkflowWorker: 1 } })).toBe(false);
    expect(neverOutOfSlots({ ...full, samples: 0 })).toBe(false);
  });

  it('watchSlots keeps the fewest free slots seen and counts the samples without one', async () => {
    let activityFree = 5;
    let served = 0;
    const server = http.createServer((_req, res) => {
      res.end(SERVED.replace('worker_type="ActivityWorker"} 1000', `worker_type="ActivityWorker"} ${activityFree}`));
      activityFree = activityFree === 5 ? 0 : 5;
      served++;
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const watch = watchSlots((server.address() as AddressInfo).port, 20);
    // Until the watch has had two answers (one with free activity slots, one without), not a fixed time: on a busy
    // machine (CI) 300 ms held only one scrape.
    await waitUntil(() => served >= 2, 'two scrapes of the metrics', { timeoutMs: 10_000, everyMs: 20 });
    const seen = await watch.stop();
    server.close();
    expect(seen.samples).toBeGreaterThanOrEqual(2);
    expect(seen.minFree).toEqual({ ActivityWorker: 0, LocalActivityWorker: 100, WorkflowWorker: 40 });
    expect(seen.samplesWithoutFreeSlot.ActivityWorker).toBeGreaterThanOrEqual(1);
    expect(neverOutOfSlots(seen)).toBe(false);
  });
});
