import type { temporal } from '@temporalio/proto';
import { confirmationLatenciesMs } from '../../src/bench/harness';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const T0 = Date.UTC(2026, 0, 1);
const time = (ms: number) => ({ seconds: Math.floor((T0 + ms) / 1000), nanos: ((T0 + ms) % 1000) * 1e6 });
// Plain numbers where the proto types say Long: what the functions read (Number(), eventTimeMs) takes either.
const event = (eventId: number, ms: number, attrs: Record<string, unknown>): HistoryEvent =>
  ({ eventId, eventTime: time(ms), ...attrs }) as unknown as HistoryEvent;
const accepted = (eventId: number, ms: number, name: string) =>
  event(eventId, ms, { workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { input: { name } } } });
const completed = (eventId: number, ms: number, acceptedEventId: number) =>
  event(eventId, ms, { workflowExecutionUpdateCompletedEventAttributes: { acceptedEventId } });
const started = (eventId: number, ms: number) => event(eventId, ms, { activityTaskStartedEventAttributes: {} });

describe("a person's answer → the next activity", () => {
  // The confirmation was sent at 2 s; workflow tasks that ran out of time kept it out of history until 30 s.
  const history = [
    started(1, 1_000),
    accepted(10, 30_000, 'confirmPortainerDeploy'),
    completed(11, 30_050, 10),
    started(12, 30_100),
    accepted(20, 60_000, 'approveDecommission'),
    completed(21, 60_000, 20),
    started(22, 60_020),
  ];
  const sent = [
    { update: 'approveDecommission', sentAtMs: T0 + 59_500 },
    { update: 'confirmPortainerDeploy', sentAtMs: T0 + 2_000 },
  ];

  it('counts from when the person sent it, paired by update name, as well as from acceptance and completion', () => {
    expect(confirmationLatenciesMs(history, sent)).toEqual({
      fromSent: [28_100, 520],
      fromAccepted: [100, 20],
      fromCompleted: [50, 20],
    });
  });

  it('leaves out an answer whose send time is unknown instead of guessing it', () => {
    expect(confirmationLatenciesMs(history, sent.slice(0, 1)).fromSent).toEqual([520]);
    expect(confirmationLatenciesMs(history).fromSent).toEqual([]);
  });
});
