/**
 * Test helper: a private copy of the shipped plan, Phoenix configs and compose file in a temp dir (same relative
 * layout as the repo), with mutations applied, so each case breaks exactly one thing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CliIo } from '../../../src/cli/io';

export const REPO = path.resolve(__dirname, '../../..');
export const SHIPPED_PLAN = path.join(REPO, 'plans/qdrant-to-dr-phoenix.json');
const VM_REL = 'examples/phoenix/etc/phoenix_vm_configs.json';
const LXC_REL = 'examples/phoenix/etc/phoenix_lxc_configs.json';
const COMPOSE_REL = 'examples/phoenix/persistent-storage/qdrant/docker-compose.yml';

/* eslint-disable @typescript-eslint/no-explicit-any -- mutations poke at arbitrary JSON */
export interface Mutations {
  plan?: (plan: any) => void;
  vm?: (vmConfig: any) => void;
  lxc?: (lxcConfig: any) => void;
  /** Replace the compose file's bytes (string = UTF-8 text). */
  compose?: (text: string) => string | Buffer;
  /** Anything else: gets the world's root directory. */
  files?: (root: string) => void;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface World {
  root: string;
  planPath: string;
  vmPath: string;
  lxcPath: string;
  composePath: string;
}

export function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export function makeWorld(m: Mutations = {}, base = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-plan-'))): World {
  const root = base;
  const world: World = {
    root,
    planPath: path.join(root, 'plans/qdrant-to-dr-phoenix.json'),
    vmPath: path.join(root, VM_REL),
    lxcPath: path.join(root, LXC_REL),
    composePath: path.join(root, COMPOSE_REL),
  };
  const write = (file: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data);
  };
  const plan = readJson(SHIPPED_PLAN);
  const vm = readJson(path.join(REPO, VM_REL));
  const lxc = readJson(path.join(REPO, LXC_REL));
  m.plan?.(plan);
  m.vm?.(vm);
  m.lxc?.(lxc);
  write(world.planPath, JSON.stringify(plan, null, 2));
  write(world.vmPath, JSON.stringify(vm, null, 2));
  write(world.lxcPath, JSON.stringify(lxc, null, 2));
  const compose = fs.readFileSync(path.join(REPO, COMPOSE_REL), 'utf8');
  write(world.composePath, m.compose ? m.compose(compose) : compose);
  m.files?.(root);
  return world;
}

export function captureIo(): CliIo & { text(): string; lines(): string[] } {
  const lines: string[] = [];
  return {
    out: (t) => lines.push(t),
    err: (t) => lines.push(t),
    text: () => lines.join('\n'),
    lines: () => lines,
  };
}

/** Reorders object keys (reversed), deeply: same meaning, different bytes. */
export function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}
