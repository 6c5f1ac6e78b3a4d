import type { GuestSandbox, SandboxRun } from '../guest-sandbox/sandbox';
import type { RawParams, Schema } from './params';
import type { SimState } from './types';

export interface SimOptions {
  taskDurations: Record<string, number>;
  defaultTaskMs: number;
  agentDelayMs: number;
  /** How long cloud-init runs after the guest agent answers, at each start. */
  cloudInitMs: number;
  /** Runs guest-agent commands of VMs with an image for real (see src/lab/guest-sandbox). */
  sandbox?: GuestSandbox;
  /** Sandboxed commands in flight or ended, by `vmid:pid` (processes are not state: a restarted sim forgets them). */
  sandboxRuns: Map<string, SandboxRun>;
}

export interface RouteContext {
  state: SimState;
  options: SimOptions;
  params: RawParams;
  path: Record<string, string>;
  /** The token id, as it appears in UPIDs. */
  user: string;
}

/** Some answers carry more than `data` (the task log adds `total`). */
export class Envelope {
  constructor(readonly body: Record<string, unknown>) {}
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  pattern: string;
  regex: RegExp;
  keys: string[];
  schema: Schema;
  /** Privilege named in 403 messages; GET routes need only audit. */
  privilege: string;
  handler: (ctx: RouteContext) => unknown;
}

export function route(
  method: Route['method'],
  pattern: string,
  privilege: string,
  schema: Schema,
  handler: Route['handler'],
): Route {
  const keys: string[] = [];
  const regex = new RegExp(
    `^${pattern.replace(/\{(\w+)\}/g, (_m, k: string) => {
      keys.push(k);
      return '([^/]+)';
    })}$`,
  );
  const full: Schema = { ...schema };
  for (const k of keys) full[k] ??= k === 'vmid' ? { type: 'int', min: 100 } : { type: 'string' };
  return { method, pattern, regex, keys, schema: full, privilege, handler };
}

export function matchRoute(
  routes: Route[],
  method: string,
  subpath: string,
): { route: Route; path: Record<string, string> } | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const m = r.regex.exec(subpath);
    if (!m) continue;
    const path: Record<string, string> = {};
    r.keys.forEach((k, i) => (path[k] = decodeURIComponent(m[i + 1])));
    return { route: r, path };
  }
  return undefined;
}

export function aclPath(path: Record<string, string>): string {
  if (path.vmid) return `/vms/${path.vmid}`;
  if (path.storage) return `/storage/${path.storage}`;
  if (path.node) return `/nodes/${path.node}`;
  return '/';
}
