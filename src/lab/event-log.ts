/**
 * The lab's event log: one JSONL line per side effect anywhere in the world (Proxmox calls, file writes, gateway
 * tests and reloads, Portainer deploys, a person's answers), with timestamps. Chaos runs count effects from it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

export interface LabEvent {
  time: string;
  kind: string;
  [key: string]: unknown;
}

export class EventLog {
  private timers: NodeJS.Timeout[] = [];

  constructor(readonly file: string) {
    fs.writeFileSync(file, '', { flag: 'a' });
  }

  write(event: Omit<LabEvent, 'time'> & { time?: string }): void {
    fs.appendFileSync(this.file, `${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  }

  /** Follows another JSONL file (e.g. the Proxmox audit log) from its current end, mapping lines into events. */
  follow(file: string, map: (line: string) => Omit<LabEvent, 'time'> | undefined): void {
    let offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
    let partial = '';
    const poll = () => {
      if (!fs.existsSync(file)) return;
      const size = fs.statSync(file).size;
      if (size <= offset) return;
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      fs.closeSync(fd);
      offset = size;
      const lines = (partial + buf.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          const event = map(line);
          if (event) this.write({ ...event, time: (JSON.parse(line) as { time?: string }).time });
        } catch {
          // A line we cannot read is not an event.
        }
      }
    };
    this.timers.push(setInterval(poll, 200));
    this.flushers.push(poll);
  }

  /** Records a `file-write` whenever the file's content changes. */
  watchFile(file: string): void {
    const hash = () =>
      fs.existsSync(file)
        ? crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16)
        : undefined;
    let last = hash();
    const poll = () => {
      const now = hash();
      if (now !== last) this.write({ kind: 'file-write', path: file, sha256: now ?? null, previous: last ?? null });
      last = now;
    };
    this.timers.push(setInterval(poll, 200));
    this.flushers.push(poll);
  }

  private flushers: (() => void)[] = [];

  /** Reads every event so far (after picking up what the followers have not seen yet). */
  read(): LabEvent[] {
    for (const f of this.flushers) f();
    return fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as LabEvent);
  }

  close(): void {
    for (const f of this.flushers) f();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.flushers = [];
  }
}
