/**
 * The bench's people get the runs' webhook notifications (plan `notify`), as an operator with notifications does:
 * a loopback HTTP server that takes the POSTs of the `notify` activity and wakes whoever waits for that run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The worker's env var the fleet's plans name in `notify.webhookUrlEnv`. */
export const INBOX_URL_ENV = 'PHOENIX_BENCH_INBOX_URL';

/** Notifications that ask a person something (not `completed`, `failed`, …). */
const ASKS = new Set(['waiting', 'reminder']);

export interface Inbox {
  url: string;
  /** Resolves true when the run asks a person something (also one that came before this call), false after `ms`. */
  next(workflowId: string, ms: number): Promise<boolean>;
  /** How many notifications came, by event. */
  received: Record<string, number>;
  close(): Promise<void>;
}

export async function startInbox(): Promise<Inbox> {
  const unread = new Set<string>();
  const waiters = new Map<string, () => void>();
  const received: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204).end();
      let note: { event?: string; workflowId?: string };
      try {
        note = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof note;
      } catch {
        return;
      }
      if (!note.event || !note.workflowId) return;
      received[note.event] = (received[note.event] ?? 0) + 1;
      if (!ASKS.has(note.event)) return;
      const wake = waiters.get(note.workflowId);
      if (wake) wake();
      else unread.add(note.workflowId);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    received,
    next(workflowId, ms) {
      if (unread.delete(workflowId)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(workflowId);
          resolve(false);
        }, ms);
        waiters.set(workflowId, () => {
          clearTimeout(timer);
          waiters.delete(workflowId);
          resolve(true);
        });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
