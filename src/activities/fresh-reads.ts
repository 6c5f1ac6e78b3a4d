/**
 * Reads of one thing that a worker's activities ask for at the same time, made once — and never older than the ask.
 * A caller that comes while no read of its key runs starts one; a caller that comes while one runs waits for the
 * next, which starts when the running one ends and answers everyone who came meanwhile. So every answer comes from a
 * read that started after its caller asked (what a safety check before a delete needs), and N callers at once cost
 * two reads, not N.
 *
 * The read runs in the activity context of whoever started it: it must not heartbeat or look at cancellation (each
 * caller does that itself, before and after), or one caller's cancellation would fail the others' answer. A failed
 * read fails everyone it answers, as N reads at that moment would have.
 */
interface Slot<T> {
  running?: Promise<T>;
  next?: Promise<T>;
}

export function createFreshReads<T>() {
  const slots = new Map<string, Slot<T>>();

  function start(key: string, slot: Slot<T>, read: () => Promise<T>): Promise<T> {
    const running = read();
    slot.running = running;
    const settled = () => {
      if (slot.running !== running) return;
      slot.running = undefined;
      if (!slot.next) slots.delete(key);
    };
    running.then(settled, settled);
    return running;
  }

  return function freshRead(key: string, read: () => Promise<T>): Promise<T> {
    let slot = slots.get(key);
    if (!slot) slots.set(key, (slot = {}));
    const running = slot.running;
    if (!running) return start(key, slot, read);
    const current = slot;
    current.next ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        current.next = undefined;
        return start(key, current, read);
      });
    return current.next;
  };
}
