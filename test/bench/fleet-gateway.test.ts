/**
 * The bench's fleet shares one real nginx gateway: each tenant's `location /qdrant-tK/` must sit in the server block
 * its gatewayUrl reaches (the lab's site, like the real one, has a port-80 server and an HTTPS server for Portainer),
 * the edited site must pass a real `nginx -t`, and every tenant's path must reach its own legacy Qdrant.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addTenants, existingVms, withTenantRoutes, type Tenant } from '../../src/bench/fleet';
import { phoenixGatewaySite } from '../../src/lab/services/gateway-site';
import { startWorld, type World } from '../../src/lab/world';
import { parseUpstreamBlocks } from '../../src/nginx/tokens';
import { readUpstreams } from '../../src/nginx/upstream';
import { QdrantClient } from '../../src/qdrant/client';
import { requireOrSkip } from '../harness/tools';

const site = phoenixGatewaySite({
  listen: '127.0.0.153:8080',
  tlsListen: '127.0.0.153:8443',
  certificate: { cert: '/x/ssl/gw.crt', key: '/x/ssl/gw.key' },
  upstreams: [
    { name: 'qwen_service', server: '127.0.0.150:8000' },
    { name: 'qdrant_service', server: '127.0.0.152:6333' },
    { name: 'portainer_service', server: '127.0.0.101:9443' },
  ],
});
const routes = [0, 1, 2].map((index) => ({
  index,
  qdrant: `127.1.${index}.152:6333`,
  embedding: `127.1.${index}.150:8000`,
}));

/** The server block (by its first listen) that holds `location /qdrant-tK/`. */
function serverOfLocation(text: string, k: number): string {
  const parsed = parseUpstreamBlocks(text);
  if (!parsed.ok) throw new Error(parsed.error);
  const loc = parsed.blocks.find((b) => b.words.map((w) => w.value).join(' ') === `location /qdrant-t${k}/`);
  if (!loc) throw new Error(`no location /qdrant-t${k}/`);
  const server = parsed.blocks.find((b) => b.words[0]?.value === 'server' && b.open < loc.open && loc.close < b.close);
  const listen = server?.statements.find((s) => s.words[0].value === 'listen');
  return listen
    ? listen.words
        .slice(1)
        .map((w) => w.value)
        .join(' ')
    : '(none)';
}

describe('withTenantRoutes (the fleet gateway edit, pure)', () => {
  it('puts each location into the plain-HTTP server that an http:// gatewayUrl reaches, not the last (HTTPS) one', () => {
    const out = withTenantRoutes(site, 'http://127.0.0.153:8080/qdrant', routes);
    for (const k of [0, 1, 2]) expect(serverOfLocation(out, k)).toBe('127.0.0.153:8080 default_server');
    const names = readUpstreams(out).map((u) => u.name);
    expect(names).toEqual(
      expect.arrayContaining(['qdrant_t0', 'embedding_t0', 'qdrant_t2', 'embedding_t2', 'qdrant_service']),
    );
    expect(readUpstreams(out).find((u) => u.name === 'qdrant_t1')?.servers[0].address).toBe('127.1.1.152:6333');
    // Nothing else changed: removing the inserted lines gives the site back byte for byte.
    const inserted = /^(?:upstream (?:qdrant|embedding)_t\d .*| {4}location \/qdrant-t\d\/ .*)\n/gm;
    expect(out.replace(inserted, '')).toBe(site);
  });

  it('an https:// gatewayUrl on the TLS port goes into the ssl server', () => {
    const out = withTenantRoutes(site, 'https://127.0.0.153:8443/qdrant', routes.slice(0, 1));
    expect(serverOfLocation(out, 0)).toBe('127.0.0.153:8443 ssl');
  });

  it('refuses a gatewayUrl no server block listens for, rather than guessing', () => {
    expect(() => withTenantRoutes(site, 'http://127.0.0.153:9999/qdrant', routes)).toThrow(/no server block/);
    // http:// on the TLS port is not that server either (it speaks TLS).
    expect(() => withTenantRoutes(site, 'http://127.0.0.153:8443/qdrant', routes)).toThrow(/no server block/);
  });

  it('is not misled by braces in comments or quoted strings', () => {
    const tricky = site.replace(
      'server_name _;',
      'server_name _; # a comment with a } brace\n    add_header X-Note "}{";',
    );
    const out = withTenantRoutes(tricky, 'http://127.0.0.153:8080/qdrant', routes);
    for (const k of [0, 1, 2]) expect(serverOfLocation(out, k)).toBe('127.0.0.153:8080 default_server');
  });
});

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('addTenants on a lab world (real nginx)', () => {
  let dir: string;
  let world: World;
  let tenants: Tenant[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-fleet-gw-'));
    world = await startWorld({ dir, planName: `fleet-gw-${process.pid}` });
    tenants = await addTenants(world, 3, 0, existingVms(world));
  }, 120_000);
  afterAll(async () => {
    for (const t of tenants) await Promise.all([t.legacy.stop(), t.fresh.stop()]);
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the edited site passes nginx -t, and every tenant location is in the server its gatewayUrl reaches', () => {
    const cmd = world.plan.gateway.nginxCommand;
    const r = spawnSync(cmd[0], [...cmd.slice(1), '-t'], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/test is successful/);
    expect(r.status).toBe(0);
    const text = fs.readFileSync(world.gateway.realSiteFile, 'utf8');
    const port = new URL(world.plan.qdrant.gatewayUrl).port;
    for (const t of tenants) {
      expect(new URL(t.plan.qdrant.gatewayUrl).port).toBe(port);
      expect(serverOfLocation(text, t.index)).toMatch(new RegExp(`:${port}\\b`));
    }
  });

  it("each tenant's /qdrant-tK/ path answers from its own legacy Qdrant, and /qdrant/ still from the world's", async () => {
    const whoAnswers = (url: string) => new QdrantClient({ baseUrl: url, timeoutMs: 5_000 }).identity();
    for (const t of tenants) {
      expect(t.plan.qdrant.gatewayUrl).toMatch(new RegExp(`/qdrant-t${t.index}$`));
      expect((await whoAnswers(t.plan.qdrant.gatewayUrl)).id).toBe(t.legacy.identity);
    }
    expect(new Set(tenants.map((t) => t.legacy.identity)).size).toBe(3);
    expect((await whoAnswers(world.plan.qdrant.gatewayUrl)).id).toBe(world.legacyQdrant.identity);
  });

  it("each tenant's legacy CTs are the homelab's (volumes renamed to their ctids); CT 953's counterpart is absent", () => {
    for (const t of tenants) {
      const [c0, , c2, c3] = t.plan.legacyGuests.map((g) => g.ctid);
      expect(String(world.proxmox.guest(c2)?.config.mp0)).toContain(`subvol-${c2}-disk-1,mp=/qdrant/storage`);
      expect(String(world.proxmox.guest(c0)?.config.rootfs)).toContain(`subvol-${c0}-disk-0`);
      expect(world.proxmox.guest(c3)).toBeUndefined();
    }
  });

  it('each tenant has its own copy of the adopted VM 1001 (running, same image, own disk and address); 1002 is absent', () => {
    const base = world.proxmox.guest(1001);
    for (const t of tenants) {
      const [adopted, cloned] = t.plan.vms;
      expect(adopted.adopt).toBe(true);
      const g = world.proxmox.guest(adopted.vmid);
      expect(g?.status).toBe('running');
      expect(g?.image).toEqual(base?.image);
      expect(String(g?.config.scsi0)).toContain(`vm-${adopted.vmid}-disk-0`);
      expect(String(g?.config.ipconfig0)).toContain(`ip=${adopted.ip}/`);
      expect(world.proxmox.guest(cloned.vmid)).toBeUndefined();
    }
  });
});
