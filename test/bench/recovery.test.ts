/**
 * Chaos's recovery figure: restart → next completed activity. A restart whose next completion only came after
 * another kill does not count (that time belongs to the later kill, whose own restart is measured); the figure that
 * counts it anyway is kept beside it. And its count of retries that no kill explains (spurious retries).
 */
import { describeRecovery, recoveryTimesMs, spuriousRetries } from '../../src/bench/harness';

describe('recoveryTimesMs', () => {
  const completions = [1_000, 20_000];

  it('measures each restart to the next completed activity', () => {
    expect(recoveryTimesMs([500, 12_000], completions)).toEqual([500, 8_000]);
  });

  it('with kills: a restart whose next completion comes after another kill is not counted', () => {
    // restart at 2 s, killed again at 9 s, restarted at 12 s, next completion at 20 s
    expect(recoveryTimesMs([2_000, 12_000], completions, [1_500, 9_000])).toEqual([8_000]);
    expect(recoveryTimesMs([2_000, 12_000], completions)).toEqual([18_000, 8_000]);
  });

  it('a restart with nothing completed after it is not counted', () => {
    expect(recoveryTimesMs([25_000], completions, [])).toEqual([]);
  });
});

describe('describeRecovery', () => {
  it('names what happened between a restart and the next completed activity', () => {
    const at = (s: number) => ({ seconds: String(s), nanos: 0 });
    const events = [
      {
        eventId: 5,
        eventTime: at(1),
        activityTaskScheduledEventAttributes: { activityType: { name: 'decommissionGuest' } },
      },
      { eventId: 6, eventTime: at(12), activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 3 } },
      { eventId: 7, eventTime: at(13), activityTaskCompletedEventAttributes: { scheduledEventId: 5 } },
    ] as unknown as Parameters<typeof describeRecovery>[0];
    expect(describeRecovery(events, 2_000)).toBe(
      '+10.0s ActivityTaskStarted decommissionGuest attempt 3; +11.0s ActivityTaskCompleted decommissionGuest',
    );
  });
});

describe('spuriousRetries', () => {
  // A chaos run's history (2026-12-02, run 15 of series 6), trimmed: worker 8324 completed the workflow task that
  // scheduled provisionFeature and was SIGKILLed at 36.807 s; the server recorded the scheduling at 36.808 s and had
  // handed the first attempt to 8324 eagerly; attempt 2 ran on 8342 after the heartbeat timeout.
  const at = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
  const history = (wftIdentity: string) =>
    [
      { eventId: 78, eventTime: at(36_792), workflowTaskScheduledEventAttributes: {} },
      { eventId: 79, eventTime: at(36_795), workflowTaskStartedEventAttributes: { scheduledEventId: 78 } },
      {
        eventId: 80,
        eventTime: at(36_807),
        workflowTaskCompletedEventAttributes: { scheduledEventId: 78, startedEventId: 79, identity: wftIdentity },
      },
      {
        eventId: 81,
        eventTime: at(36_808),
        activityTaskScheduledEventAttributes: {
          activityType: { name: 'provisionFeature' },
          workflowTaskCompletedEventId: 80,
        },
      },
      {
        eventId: 82,
        eventTime: at(42_814),
        activityTaskStartedEventAttributes: { scheduledEventId: 81, attempt: 2, identity: '8342@vm' },
      },
      {
        eventId: 83,
        eventTime: at(43_079),
        activityTaskCompletedEventAttributes: { scheduledEventId: 81, startedEventId: 82 },
      },
    ] as unknown as Parameters<typeof spuriousRetries>[0];

  it('a retry after the worker that held the scheduling workflow task was killed is the kill’s, not spurious', () => {
    expect(spuriousRetries(history('8324@vm'), [36_807], [{ pid: 8324, atMs: 36_807 }])).toBe(0);
  });

  it('the same retry with no kill, or with a kill of another worker before the task, is spurious', () => {
    expect(spuriousRetries(history('8324@vm'), [], [])).toBe(1);
    expect(spuriousRetries(history('8324@vm'), [30_000], [{ pid: 8324, atMs: 30_000 }])).toBe(1);
    expect(spuriousRetries(history('9999@vm'), [36_807], [{ pid: 8324, atMs: 36_807 }])).toBe(1);
  });

  it('a kill between the scheduling and the end accounts for the retry, whoever held the task', () => {
    expect(spuriousRetries(history('9999@vm'), [40_000], [{ pid: 8324, atMs: 40_000 }])).toBe(0);
  });
});
