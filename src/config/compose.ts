/**
 * Compose files named by a VM's `docker_compose_files`: read at resolve time (so the worker never re-reads plan
 * files) and given a light look for the mistakes that lose data: unpinned images, Qdrant without a persistent volume.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { PhoenixVm } from './phoenix';
import type { PathPart } from './problems';
import { ProblemList } from './problems';
import { PHOENIX_ROOT, phoenixPath } from './phoenix-dir';
import { readTextFile } from './read-file';

export const MAX_COMPOSE_BYTES = 256 * 1024;
const QDRANT_STORAGE = '/qdrant/storage';

export interface LoadedCompose {
  /** Index in the VM's `docker_compose_files`. */
  index: number;
  source: string;
  destination: string;
  content: string;
  sha256: string;
}

/** Reads and checks every compose file of one VM; entries that fail are reported and left out. */
export function checkComposeFiles(
  vmFile: string,
  vmid: number,
  vm: PhoenixVm,
  problems: ProblemList,
  /** A Phoenix checkout: `/usr/local/phoenix_hypervisor/…` sources are read inside it. */
  phoenixDir?: string,
): LoadedCompose[] {
  const out: LoadedCompose[] = [];
  (vm.entry.docker_compose_files ?? []).forEach((entry, index) => {
    const at: PathPart[] = ['vms', vm.index, 'docker_compose_files', index];
    const file = phoenixPath(entry.source, path.dirname(vmFile), phoenixDir);
    if (phoenixDir === undefined && entry.source.startsWith(`${PHOENIX_ROOT}/`) && !fs.existsSync(file)) {
      problems.error(
        vmFile,
        [...at, 'source'],
        `VM ${vmid}: compose file ${entry.source} is a path in the Phoenix checkout on the Proxmox host, not on this machine`,
        'give a copy of the checkout: phoenix.dir in the plan, or --phoenix-dir DIR',
      );
      return;
    }
    const read = readTextFile(file, MAX_COMPOSE_BYTES, problems, {
      file: vmFile,
      at: [...at, 'source'],
      what: `VM ${vmid}: compose file`,
    });
    if (!read.ok) return;
    lookAtCompose(read.text, vmFile, at, vmid, problems);
    out.push({
      index,
      source: entry.source,
      destination: entry.destination,
      content: read.text,
      // The hash of what is sent (the text, without a byte-order mark if the file had one): Phase 2 writes exactly
      // this content and checks it against this hash on the host.
      sha256: createHash('sha256').update(read.text, 'utf8').digest('hex'),
    });
  });
  return out;
}

function lookAtCompose(text: string, vmFile: string, at: PathPart[], vmid: number, problems: ProblemList): void {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100, prettyErrors: false });
  } catch (err) {
    const where = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    problems.error(
      vmFile,
      [...at, 'source'],
      `VM ${vmid}: compose file is not valid YAML${where ? ` (line ${where.line}, column ${where.col})` : ''}`,
      'fix the YAML (docker compose config shows the exact problem)',
    );
    return;
  }
  const services = isRecord(doc) && isRecord(doc.services) ? doc.services : undefined;
  if (!services) {
    problems.error(
      vmFile,
      [...at, 'source'],
      `VM ${vmid}: compose file has no "services" mapping`,
      'point it at a docker compose file',
    );
    return;
  }
  for (const [name, service] of Object.entries(services)) {
    if (!isRecord(service)) continue;
    lookForSecrets(name, service, vmFile, at, vmid, problems);
    const image = typeof service.image === 'string' ? service.image : undefined;
    if (!image) continue;
    const tag = imageTag(image);
    if (tag === undefined || tag === 'latest') {
      problems.warning(
        vmFile,
        [...at, 'source'],
        `VM ${vmid}: compose service "${name}" uses image "${image}" ${tag ? 'with the "latest" tag' : 'without a tag'}`,
        'pin a version tag (e.g. qdrant/qdrant:v1.15.4) so a redeploy cannot silently upgrade',
      );
    }
    if (/(^|\/)qdrant\/qdrant(:|@|$)/.test(image) && !hasPersistentStorage(service.volumes)) {
      problems.warning(
        vmFile,
        [...at, 'source'],
        `VM ${vmid}: compose service "${name}" has no named or bind volume for ${QDRANT_STORAGE}`,
        `mount a volume there (e.g. "qdrant_storage:${QDRANT_STORAGE}"), or the collections are lost when the container is recreated`,
      );
    }
  }
}

/** Environment keys that hold secrets (same idea as the plan's inline-secret check). */
const SECRET_KEY = /(secret|password|passphrase|token|api[-_]?key|private[-_]?key)/i;

/**
 * The compose content travels in the workflow input, so it is in Temporal's history: a literal secret in it leaks
 * there. A warning (validate --strict refuses it): `${VAR}` substitution from the stack's environment is the way.
 */
function lookForSecrets(
  name: string,
  service: Record<string, unknown>,
  vmFile: string,
  at: PathPart[],
  vmid: number,
  problems: ProblemList,
): void {
  const env = service.environment;
  const pairs: [string, unknown][] = Array.isArray(env)
    ? env
        .filter((e): e is string => typeof e === 'string')
        .map((e) => [e.split('=')[0], e.includes('=') ? e.slice(e.indexOf('=') + 1) : undefined])
    : isRecord(env)
      ? Object.entries(env)
      : [];
  for (const [key, value] of pairs) {
    if (!SECRET_KEY.test(key) || value === undefined || value === null || value === '') continue;
    if (typeof value === 'string' && /^\$\{?[A-Za-z_]/.test(value)) continue;
    problems.warning(
      vmFile,
      [...at, 'source'],
      `VM ${vmid}: compose service "${name}" sets ${key} to a literal value, and the compose content is stored in the run's Temporal history`,
      `write ${key}: \${${key}} and set the value in the Portainer stack's environment variables`,
    );
  }
  const walk = (v: unknown): boolean =>
    typeof v === 'string'
      ? v.includes('-----BEGIN')
      : Array.isArray(v)
        ? v.some(walk)
        : isRecord(v)
          ? Object.values(v).some(walk)
          : false;
  if (walk(service))
    problems.warning(
      vmFile,
      [...at, 'source'],
      `VM ${vmid}: compose service "${name}" holds a PEM key or certificate inline, and the compose content is stored in the run's Temporal history`,
      'mount the file from the VM instead (a bind volume or a docker secret)',
    );
}

/** The tag of an image reference, `@digest` counting as pinned; undefined when there is none. */
function imageTag(image: string): string | undefined {
  if (image.includes('@')) return image.slice(image.indexOf('@') + 1);
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  return colon >= 0 ? lastSegment.slice(colon + 1) : undefined;
}

function hasPersistentStorage(volumes: unknown): boolean {
  if (!Array.isArray(volumes)) return false;
  return volumes.some((v) => {
    if (typeof v === 'string') {
      // short syntax SOURCE:TARGET[:MODE]; a bare TARGET is an anonymous volume, lost with the container
      const parts = v.split(':');
      return parts.length >= 2 && parts[0] !== '' && stripSlash(parts[1]) === QDRANT_STORAGE;
    }
    if (isRecord(v)) {
      return (
        (v.type === 'volume' || v.type === 'bind') &&
        typeof v.source === 'string' &&
        v.source !== '' &&
        typeof v.target === 'string' &&
        stripSlash(v.target) === QDRANT_STORAGE
      );
    }
    return false;
  });
}

function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
