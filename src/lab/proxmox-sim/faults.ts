import { seededRandom } from '../random';

export type FaultShape = 'transient' | 'lock' | 'lost-response';

/**
 * A fault for a chosen request: `transient` and `lock` fail *before* the effect; `lost-response` applies the effect
 * and then destroys the socket without answering (the shape that proves idempotency).
 */
export interface ScriptedFault {
  method?: string;
  /** Substring of (or RegExp over) the path as sent, e.g. `/qemu/9000/clone`. */
  path?: string | RegExp;
  shape: FaultShape;
  /** How many matching requests it hits; default 1. */
  times?: number;
}

export interface FaultSettings {
  /** Share of requests answered with a 5xx before any effect (0..1). */
  transientRate?: number;
  /** Share answered with `can't lock file … got timeout` before any effect. */
  lockRate?: number;
  /** Share whose effect is applied and whose response is then lost. */
  lostResponseRate?: number;
  /** Delay before every request is handled. */
  latencyMs?: number;
  /**
   * The node's scheduled backup job: it starts just before the first vzdump a client asks for (backing up every guest
   * on the node but templates, locking each) and runs this long, so that vzdump waits for the node's backup lock. Once.
   */
  scheduledBackupJobMs?: number;
  /** Rates apply to mutating calls only unless this is set. */
  includeReads?: boolean;
  /** Seed for the random choices (same seed + same request order → same faults). */
  seed?: number;
  scripted?: ScriptedFault[];
}

export class FaultInjector {
  private settings: FaultSettings = {};
  private random: () => number = seededRandom(1);

  constructor(initial: FaultSettings = {}) {
    this.set(initial);
  }

  /** Merge new settings in; a new seed restarts the random sequence. `scripted` replaces the queue. */
  set(next: FaultSettings): void {
    this.settings = {
      ...this.settings,
      ...next,
      scripted: next.scripted ? next.scripted.map((f) => ({ ...f })) : this.settings.scripted,
    };
    if (next.seed !== undefined) this.random = seededRandom(next.seed);
  }

  get current(): FaultSettings {
    return this.settings;
  }

  latencyMs(): number {
    return this.settings.latencyMs ?? 0;
  }

  /** Pick one of a few realistic transient answers (deterministic under the seed). */
  pickTransient(): { status: number; message: string } {
    const options = [
      { status: 503, message: 'Service Unavailable' },
      { status: 500, message: 'got no worker upid - start worker failed' },
      { status: 596, message: 'Connection timed out' },
    ];
    return options[Math.floor(this.random() * options.length) % options.length];
  }

  /** The scheduled backup job's duration, if it is due now (the first vzdump asked for); it fires once. */
  takeScheduledBackupJob(method: string, path: string): number | undefined {
    const ms = this.settings.scheduledBackupJobMs;
    if (!ms || method !== 'POST' || !path.endsWith('/vzdump')) return undefined;
    this.settings.scheduledBackupJobMs = undefined;
    return ms;
  }

  decide(method: string, path: string, mutating: boolean): FaultShape | undefined {
    const queue = this.settings.scripted ?? [];
    for (const f of queue) {
      if ((f.times ?? 1) <= 0) continue;
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (f.path !== undefined && !(typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path))) continue;
      f.times = (f.times ?? 1) - 1;
      return f.shape;
    }
    if (!mutating && !this.settings.includeReads) return undefined;
    const t = this.settings.transientRate ?? 0;
    const l = this.settings.lockRate ?? 0;
    const lost = this.settings.lostResponseRate ?? 0;
    if (t + l + lost <= 0) return undefined;
    const r = this.random();
    if (r < t) return 'transient';
    if (r < t + l) return 'lock';
    if (r < t + l + lost) return 'lost-response';
    return undefined;
  }
}
