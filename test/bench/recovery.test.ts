/**
 * Chaos's recovery figure: restart → next completed activity. A restart whose next completion only came after
 * another kill does not count (that time belongs to the later kill, whose own restart is measured); the figure that
 * counts it anyway is kept beside it.
 */
import { describeRecovery, recoveryTimesMs } from '../../src/bench/harness';

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
