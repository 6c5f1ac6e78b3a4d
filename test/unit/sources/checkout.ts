/** A throwaway copy of the fixture checkout (test/fixtures/phoenix-checkout), and a plan naming it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const FIXTURE_CHECKOUT = path.resolve(__dirname, '../../fixtures/phoenix-checkout');
export const SITE = 'etc/nginx/sites-available/vllm_gateway';
export const SCRIPT = 'bin/phoenix_hypervisor_lxc_101.sh';
export const LXC = 'etc/phoenix_lxc_configs.json';

export interface Checkout {
  dir: string;
  root: string;
  read(rel: string): string;
  write(rel: string, text: string): void;
  /** Every file under the checkout with its bytes (to prove nothing else changed). */
  snapshot(): Record<string, string>;
  remove(): void;
}

export function copyCheckout(): Checkout {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-checkout-'));
  const dir = path.join(root, 'phoenix_hypervisor');
  fs.cpSync(FIXTURE_CHECKOUT, dir, { recursive: true });
  const snapshot = () => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else out[path.relative(dir, p)] = fs.readFileSync(p, 'latin1');
      }
    };
    walk(dir);
    return out;
  };
  return {
    dir,
    root,
    read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'),
    write: (rel, text) => fs.writeFileSync(path.join(dir, rel), text),
    snapshot,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** A plan (valid on its own) whose `phoenix.dir` is the checkout; written beside it. */
export function writePlan(c: Checkout, overrides: Record<string, unknown> = {}): string {
  const plan = {
    name: 'checkout-test',
    phoenix: { dir: 'phoenix_hypervisor' },
    proxmox: {
      node: 'phoenix',
      apiUrl: 'https://10.0.0.13:8006',
      tls: { insecure: true },
      tokenId: 'root@pam!phoenix-migrate',
      tokenSecret: { env: 'PHOENIX_PVE_TOKEN_SECRET' },
    },
    proxmoxHost: { host: '10.0.0.13', hostKey: { knownHostsFile: '/etc/phoenix-migrate/known_hosts' } },
    vms: [1001, 1002],
    gateway: {
      ctid: 101,
      access: { via: 'pct' },
      siteFile: '/etc/nginx/sites-available/vllm_gateway',
      upstream: 'qdrant_service',
      newServers: ['10.0.0.102:6333'],
    },
    qdrant: {
      gatewayUrl: 'http://10.0.0.153/qdrant',
      newUrl: 'http://10.0.0.102:6333',
      legacyUrl: 'http://10.0.0.152:6333',
    },
    legacyGuests: [950, 951, 952],
    portainer: { tls: { insecure: true } },
    ...overrides,
  };
  const file = path.join(c.root, 'plan.json');
  fs.writeFileSync(file, JSON.stringify(plan, null, 2));
  return file;
}
