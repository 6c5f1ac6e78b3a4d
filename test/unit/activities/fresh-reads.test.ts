/** createFreshReads (src/activities/fresh-reads.ts): N callers at once cost two reads, and no answer predates its ask. */
import { createFreshReads } from '../../../src/activities/fresh-reads';

/** A read the test ends by hand; `reads` lists when each started, by the number of asks made before it. */
function readsOf() {
  const reads: { askedBefore: number; end: (value: string | Error) => void }[] = [];
  let asks = 0;
  const read = () =>
    new Promise<string>((resolve, reject) => {
      reads.push({ askedBefore: asks, end: (v) => (v instanceof Error ? reject(v) : resolve(v)) });
    });
  const ask = (freshRead: ReturnType<typeof createFreshReads<string>>, key = 'gateway') => {
    asks++;
    return freshRead(key, read);
  };
  return { reads, ask };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('fresh reads', () => {
  it('asks while a read runs wait for the next read, which starts after it and answers them all', async () => {
    const freshRead = createFreshReads<string>();
    const { reads, ask } = readsOf();
    const first = ask(freshRead);
    const later = [ask(freshRead), ask(freshRead), ask(freshRead)];
    await tick();
    expect(reads).toHaveLength(1);
    reads[0].end('before');
    await expect(first).resolves.toBe('before');
    await tick();
    // the next read started after all three asked
    expect(reads).toHaveLength(2);
    expect(reads[1].askedBefore).toBe(4);
    reads[1].end('after');
    await expect(Promise.all(later)).resolves.toEqual(['after', 'after', 'after']);
  });

  it('a failed read fails only those it answers; the next ask reads again', async () => {
    const freshRead = createFreshReads<string>();
    const { reads, ask } = readsOf();
    const failing = ask(freshRead);
    await tick();
    reads[0].end(new Error('ssh dropped'));
    await expect(failing).rejects.toThrow('ssh dropped');
    const again = ask(freshRead);
    await tick();
    expect(reads).toHaveLength(2);
    reads[1].end('ok');
    await expect(again).resolves.toBe('ok');
  });

  it('reads of different keys do not wait for each other', async () => {
    const freshRead = createFreshReads<string>();
    const { reads, ask } = readsOf();
    const a = ask(freshRead, 'gateway-a');
    const b = ask(freshRead, 'gateway-b');
    await tick();
    expect(reads).toHaveLength(2);
    reads[1].end('b');
    reads[0].end('a');
    await expect(Promise.all([a, b])).resolves.toEqual(['a', 'b']);
  });
});
