/**
 * The order of one worker's changes of one site file (src/activities/gateway-batch.ts), without a gateway: which
 * cutovers go together, which alone, and that nothing of one key ever overlaps. The real writes are in
 * test/integration/remote/gateway-batch.test.ts.
 */
import type { CutoverGatewayResult } from '../../../src/activities/gateway';
import {
  createGatewayQueue,
  MAX_TOGETHER,
  type Alone,
  type QueuedCutover,
} from '../../../src/activities/gateway-batch';
import type { GatewaySettings } from '../../../src/config/resolved-plan';

const gateway = (upstream: string) => ({ upstream, newServers: ['127.0.0.102:6333'] }) as GatewaySettings;
const made = (upstream: string): CutoverGatewayResult => ({
  previousServers: [`old-${upstream}`],
  previousKnown: true,
  backupPath: null,
  changed: true,
});

function world() {
  const queue = createGatewayQueue();
  const log: string[] = [];
  let busy = 0;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  /** The first change of the key holds its turn until `release()`: the rest queue behind it. */
  void queue.oneChangeAtATime('site', async () => {
    busy++;
    log.push('first change');
    await held;
    busy--;
  });
  const together =
    (outcome: 'made' | 'fails' | 'leaves-b') =>
    async (members: QueuedCutover[]): Promise<(CutoverGatewayResult | Alone)[]> => {
      expect(busy).toBe(0);
      log.push(`together ${members.map((m) => m.gateway.upstream).join('+')}`);
      if (outcome === 'fails') throw new Error('the joint write failed');
      return members.map((m) =>
        outcome === 'leaves-b' && m.gateway.upstream === 'b'
          ? { alone: true, mayHaveWritten: false }
          : made(m.gateway.upstream),
      );
    };
  const cutover = (upstream: string, outcome: 'made' | 'fails' | 'leaves-b' = 'made') =>
    queue.cutover('site', { gateway: gateway(upstream), token: 1 }, together(outcome), async (mayHaveWritten) => {
      expect(busy).toBe(0);
      busy++;
      log.push(`alone ${upstream}${mayHaveWritten ? ' (may have written)' : ''}`);
      await new Promise((r) => setTimeout(r, 5));
      busy--;
      return { ...made(upstream), changed: false };
    });
  return { log, cutover, release: () => release() };
}

describe('the gateway change queue', () => {
  it('a cutover alone in its turn goes alone', async () => {
    const w = world();
    const only = w.cutover('a');
    w.release();
    await expect(only).resolves.toMatchObject({ changed: false });
    expect(w.log).toEqual(['first change', 'alone a']);
  });

  it('cutovers that queued behind a change go together; the same upstream again waits for the next turn', async () => {
    const w = world();
    const queued = [w.cutover('a'), w.cutover('b'), w.cutover('a'), w.cutover('c')];
    w.release();
    const [a, b, a2, c] = await Promise.all(queued);
    expect([a, b, c].map((r) => r.changed)).toEqual([true, true, true]);
    // the second `a` opened the next batch, which `c` joined
    expect(a2.changed).toBe(true);
    expect(w.log).toEqual(['first change', 'together a+b', 'together a+c']);
  });

  it(`at most ${MAX_TOGETHER} go together; the next ones open the next batch`, async () => {
    const w = world();
    const names = Array.from({ length: MAX_TOGETHER + 3 }, (_, i) => `u${i}`);
    const queued = names.map((u) => w.cutover(u));
    w.release();
    await Promise.all(queued);
    expect(w.log).toEqual([
      'first change',
      `together ${names.slice(0, MAX_TOGETHER).join('+')}`,
      `together ${names.slice(MAX_TOGETHER).join('+')}`,
    ]);
  });

  it('one the joint change left out goes alone in the same turn, before the next batch', async () => {
    const w = world();
    const queued = [w.cutover('a', 'leaves-b'), w.cutover('b'), w.cutover('a')];
    w.release();
    const [a, b] = await Promise.all(queued);
    expect(a.changed).toBe(true);
    expect(b.changed).toBe(false);
    expect(w.log).toEqual(['first change', 'together a+b', 'alone b', 'alone a']);
  });

  it('when the joint change fails, each member goes alone, one after the other, knowing it may have written', async () => {
    const w = world();
    const queued = [w.cutover('a', 'fails'), w.cutover('b'), w.cutover('c')];
    w.release();
    await Promise.all(queued);
    expect(w.log).toEqual([
      'first change',
      'together a+b+c',
      'alone a (may have written)',
      'alone b (may have written)',
      'alone c (may have written)',
    ]);
  });

  it('a joint change that throws before it starts (its opener was cancelled) leaves each member to go alone', async () => {
    const queue = createGatewayQueue();
    const gone: string[] = [];
    const throwsAtOnce = (): Promise<(CutoverGatewayResult | Alone)[]> => {
      throw new Error('activity cancelled');
    };
    const results = await Promise.all(
      ['a', 'b', 'c'].map((u) =>
        queue.cutover('site', { gateway: gateway(u), token: 1 }, throwsAtOnce, async (mayHaveWritten) => {
          gone.push(`${u}${mayHaveWritten ? ' (may have written)' : ''}`);
          return made(u);
        }),
      ),
    );
    expect(results.map((r) => r.changed)).toEqual([true, true, true]);
    expect(gone).toEqual(['a (may have written)', 'b (may have written)', 'c (may have written)']);
  });

  it('a cutover whose own path fails does not hold up the others', async () => {
    const queue = createGatewayQueue();
    const joint = async (members: QueuedCutover[]) =>
      members.map(() => ({ alone: true as const, mayHaveWritten: false }));
    const results = await Promise.allSettled(
      ['a', 'b'].map((u) =>
        queue.cutover('site', { gateway: gateway(u), token: 1 }, joint, async () => {
          if (u === 'a') throw new Error('a failed');
          return made(u);
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
  });
});
