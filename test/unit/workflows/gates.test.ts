/**
 * The decommission gates (pure): the dependency scan on the live world (who still routes to a legacy CT keeps it
 * alive), volumes decided before anything changes, and the data gate for the CT hosting the legacy Qdrant.
 */
import type { LegacyGuest } from '../../../src/config/resolved-plan';
import { routesOf, splitNginxDump } from '../../../src/nginx/loaded-config';
import {
  dataGateRefusal,
  hostOfUrl,
  legacyLabel,
  pinLegacyGuests,
  scanLegacyGuests,
  volumeProblems,
  type LegacyGuestFacts,
  type LoadedRoutes,
} from '../../../src/workflows/gates';

/** As the shipped plan has them: gone from the LXC config; 953 without an address. */
const legacy: LegacyGuest[] = [
  { ctid: 950, name: 'vllm-qwen2.5-7b-awq', node: 'phoenix' },
  { ctid: 951, name: 'vllm-granite-embed-r2', node: 'phoenix' },
  { ctid: 952, name: 'qdrant-VSCodeRag', node: 'phoenix', ip: '10.0.0.152' },
  { ctid: 953, name: 'Nginx-VscodeRag', node: 'phoenix', ip: '10.0.0.153' },
];

/** What the node says: 950–952 run with their addresses (the live config is the truth); 953 is gone. */
const live = (over: Partial<Record<number, Partial<LegacyGuestFacts>>> = {}): LegacyGuestFacts[] =>
  [950, 951, 952, 953].map((ctid) => ({
    ctid,
    exists: ctid !== 953,
    visible: true,
    addresses: ctid === 953 ? [] : [`10.0.0.${ctid - 800}`],
    mountPoints: [],
    ...over[ctid],
  }));

function upstream(name: string, ...addresses: string[]): LoadedRoutes['upstreams'][number] {
  return {
    name,
    file: '/etc/nginx/sites-available/vllm_gateway',
    line: 1,
    servers: addresses.map((address) => ({ host: address.split(':')[0], address })),
  };
}

const NEW = ['10.0.0.102:6333'];
const scan = (
  routes: Partial<LoadedRoutes>,
  opts: { facts?: LegacyGuestFacts[]; deps?: Record<string, number[]>; guests?: LegacyGuest[] } = {},
) =>
  scanLegacyGuests({
    legacy: opts.guests ?? legacy,
    live: opts.facts ?? live(),
    protectedAddresses: [
      { address: '10.0.0.153', who: 'gateway CT 101' },
      { address: '10.0.0.102', who: 'VM 1002' },
    ],
    movedUpstream: 'qdrant_service',
    newServers: NEW,
    routes: { upstreams: [upstream('qdrant_service', ...NEW)], literals: [], ...routes },
    guestDependencies: opts.deps ?? {},
  });

describe('scanLegacyGuests', () => {
  it('learns addresses from the live config: with nothing but the moved upstream, 950–952 go and 953 is absent', () => {
    const r = scan({});
    expect(r.refused).toEqual([]);
    expect(r.deletable.map((g) => g.ctid)).toEqual([950, 951, 952]);
    expect(r.absent.map((g) => g.ctid)).toEqual([953]);
    expect(r.evidence[950]).toEqual(['10.0.0.150']);
  });

  it('another upstream that still routes to a legacy CT refuses it, naming upstream, file and address', () => {
    const r = scan({
      upstreams: [
        upstream('embedding_service', '10.0.0.141:8000'),
        upstream('qwen_service', '10.0.0.150:8000'),
        upstream('qdrant_service', ...NEW),
      ],
    });
    expect(r.deletable.map((g) => g.ctid)).toEqual([951, 952]);
    expect(r.refused).toEqual([
      {
        ctid: 950,
        reason:
          'CT 950 (vllm-qwen2.5-7b-awq): nginx upstream qwen_service (/etc/nginx/sites-available/vllm_gateway:1) still routes to 10.0.0.150:8000',
      },
    ]);
  });

  it('a literal proxy_pass address in another loaded file refuses that CT', () => {
    const dump = [
      'nginx: the configuration file /etc/nginx/nginx.conf syntax is ok',
      '# configuration file /etc/nginx/nginx.conf:',
      'http { include /etc/nginx/conf.d/*.conf; include /etc/nginx/sites-enabled/*; }',
      '# configuration file /etc/nginx/conf.d/rerank.conf:',
      'server {',
      '    listen 8081;',
      '    # proxy_pass http://10.0.0.150:8000; (commented out: not a route)',
      '    location /rerank/ { proxy_pass http://10.0.0.151:8001/v1/; }',
      '}',
      '# configuration file /etc/nginx/sites-enabled/vllm_gateway:',
      'upstream qdrant_service { server 10.0.0.102:6333; }',
      'server { location /qdrant/ { proxy_pass http://qdrant_service/; } }',
      '',
    ].join('\n');
    const routes = routesOf(splitNginxDump(dump));
    expect(routes.files).toEqual([
      '/etc/nginx/nginx.conf',
      '/etc/nginx/conf.d/rerank.conf',
      '/etc/nginx/sites-enabled/vllm_gateway',
    ]);
    const r = scan(routes);
    expect(r.refused).toEqual([
      {
        ctid: 951,
        reason:
          'CT 951 (vllm-granite-embed-r2): proxy_pass http://10.0.0.151:8001/v1/ in /etc/nginx/conf.d/rerank.conf:4',
      },
    ]);
    expect(r.deletable.map((g) => g.ctid)).toEqual([950, 952]);
  });

  it('the moved upstream must point exactly at the new servers: a hand revert to .152 refuses (every CT)', () => {
    const r = scan({ upstreams: [upstream('qdrant_service', '10.0.0.152:6333')] });
    expect(r.deletable).toEqual([]);
    expect(r.refused.find((x) => x.ctid === 952)?.reason).toMatch(
      /upstream qdrant_service points at 10\.0\.0\.152:6333, not exactly at the new servers 10\.0\.0\.102:6333; nginx upstream qdrant_service .* still routes to 10\.0\.0\.152:6333/,
    );
  });

  it('a legacy CT whose address cannot be learned is refused, not skipped', () => {
    const r = scan({}, { facts: live({ 951: { addresses: [] } }) });
    expect(r.refused).toEqual([
      {
        ctid: 951,
        reason: expect.stringMatching(/^CT 951 .*no address of it could be learned .* add legacyGuests\[\]\.ip/),
      },
    ]);
  });

  it('an address shared with a protected guest is never evidence (953 once had the gateway’s .153)', () => {
    const r = scan(
      { upstreams: [upstream('qdrant_service', ...NEW), upstream('gateway_self', '10.0.0.153:80')] },
      { facts: live({ 953: { exists: true, addresses: ['10.0.0.153'] } }) },
    );
    expect(r.refused).toEqual([
      {
        ctid: 953,
        reason: expect.stringMatching(/no address of it could be learned \(10\.0\.0\.153 is gateway CT 101's\)/),
      },
    ]);
  });

  it('matches hosts exactly, never by prefix (10.0.0.15 is not 10.0.0.150)', () => {
    const r = scan({
      upstreams: [
        upstream('qdrant_service', ...NEW),
        upstream('other', '10.0.0.15:80'),
        upstream('x', '10.0.0.1520:80'),
      ],
    });
    expect(r.refused).toEqual([]);
  });

  it('a kept guest that declares a legacy CT as a dependency refuses it; a retiring dependent does not', () => {
    const r = scan({}, { deps: { '102': [950], '951': [952], '101': [999] } });
    expect(r.refused).toEqual([
      { ctid: 950, reason: 'CT 950 (vllm-qwen2.5-7b-awq): guest 102 declares it as a dependency' },
    ]);
    expect(r.deletable.map((g) => g.ctid)).toEqual([951, 952]);
  });

  it('a CT the token cannot see is refused', () => {
    const r = scan({}, { facts: live({ 952: { visible: false, addresses: [] } }) });
    expect(r.refused.map((x) => x.ctid)).toEqual([952]);
    expect(r.refused[0].reason).toMatch(/VM\.Audit/);
  });
});

describe('volumeProblems', () => {
  const volume = (key: string, backup = false) => ({
    key,
    kind: 'volume' as const,
    source: 'quickOS-shared-prod-data-volumes:subvol-952-disk-1',
    path: '/qdrant/storage',
    sizeGb: 20,
    backup,
  });
  const bind = { key: 'mp1', kind: 'bind' as const, source: '/quickOS/logs', path: '/logs', backup: false };

  it('an undecided volume is a problem naming CT, mount point, size and both choices', () => {
    const problems = volumeProblems(legacy, live({ 952: { mountPoints: [volume('mp0'), bind] } }));
    expect(problems).toEqual([
      {
        item: 'CT 952 (qdrant-VSCodeRag): volume mount point mp0 at /qdrant/storage (20 GB, quickOS-shared-prod-data-volumes:subvol-952-disk-1) is in no backup (no backup=1) and the delete destroys it',
        fix: 'decide it in the plan: legacyGuests[2].volumes.mp0 = "backup" (set backup=1 and kept in the vzdump) or "discard" (destroyed with the CT)',
      },
    ]);
  });

  it('decided volumes, volumes already with backup=1, bind mounts and absent CTs need nothing', () => {
    const decided = legacy.map((g) => (g.ctid === 952 ? { ...g, volumes: { mp0: 'discard' as const } } : g));
    expect(volumeProblems(decided, live({ 952: { mountPoints: [volume('mp0'), bind] } }))).toEqual([]);
    expect(volumeProblems(legacy, live({ 951: { mountPoints: [volume('mp0', true)] } }))).toEqual([]);
  });

  it('a decision for a mount point the CT does not have (or a bind mount) is a problem too', () => {
    const decided = legacy.map((g) => (g.ctid === 952 ? { ...g, volumes: { mp1: 'backup' as const } } : g));
    const [p] = volumeProblems(decided, live({ 952: { mountPoints: [volume('mp0', true), bind] } }));
    expect(p.item).toMatch(/CT 952 .* has no volume mount point mp1 \(mp1 is a bind mount of \/quickOS\/logs/);
  });
});

describe('pinLegacyGuests (names and volume decisions from the node at preflight)', () => {
  const volume = (key: string) => ({
    key,
    kind: 'volume' as const,
    source: `fastData-shared-bulk-data:subvol-950-disk-${key}`,
    path: `/${key}`,
    backup: false,
  });
  const bind = { key: 'mp2', kind: 'bind' as const, source: '/quickOS/logs', path: '/logs', backup: false };
  const unnamed: LegacyGuest[] = [950, 952, 953].map((ctid) => ({ ctid, node: 'phoenix', allVolumes: 'backup' }));
  const seen = live({
    950: { name: 'vllm-qwen2.5-7b-awq', mountPoints: [volume('mp0'), volume('mp1'), bind] },
    952: { name: 'qdrant-VSCodeRag' },
  });

  it('an unnamed guest gets the name the node shows; one absent stays nameless (so a later guest on its id is refused)', () => {
    const pinned = pinLegacyGuests(unnamed, seen);
    expect(pinned.map((g) => g.name)).toEqual(['vllm-qwen2.5-7b-awq', 'qdrant-VSCodeRag', undefined]);
    expect(legacyLabel(pinned[2])).toBe('CT 953 (no name: absent at preflight)');
  });

  it('a plan-wide volume decision becomes one per volume mount point seen now (bind mounts are never decided), and no volume problem is left', () => {
    const pinned = pinLegacyGuests(unnamed, seen);
    expect(pinned[0].volumes).toEqual({ mp0: 'backup', mp1: 'backup' });
    expect(pinned[1].volumes).toBeUndefined();
    expect(pinned.every((g) => g.allVolumes === undefined)).toBe(true);
    expect(volumeProblems(pinned, seen)).toEqual([]);
    // a mount point added after preflight is undecided: the delete-time check refuses it
    const later = live({ 950: { mountPoints: [volume('mp0'), volume('mp1'), volume('mp3')] } });
    expect(volumeProblems(pinned, later).map((p) => p.item)).toEqual([expect.stringMatching(/CT 950 .*mp3/)]);
  });

  it('what the plan says wins: its name (the delete check refuses a mismatch) and its per-mount-point decisions', () => {
    const planned: LegacyGuest[] = [
      { ctid: 950, name: 'planned-name', node: 'phoenix', allVolumes: 'backup', volumes: { mp1: 'discard' } },
    ];
    expect(pinLegacyGuests(planned, seen)).toEqual([
      { ctid: 950, name: 'planned-name', node: 'phoenix', volumes: { mp0: 'backup', mp1: 'discard' } },
    ]);
  });

  it('a plan that names and decides everything is unchanged (histories recorded before pinning replay alike)', () => {
    expect(pinLegacyGuests(legacy, live())).toEqual(legacy);
  });
});

describe('dataGateRefusal', () => {
  it('mode "none" with a non-empty legacy instance refuses, listing the collections and the fix', () => {
    const why = dataGateRefusal('none', [
      { name: 'docs', legacyCount: 48, newCount: -1 },
      { name: 'vscode_rag', legacyCount: 120, newCount: -1 },
    ]);
    expect(why).toBe(
      'the legacy Qdrant holds data the new one does not: docs (48 points; missing on the new instance), vscode_rag (120 points; missing on the new instance) — deleting it would lose that data; qdrant.data.mode is "none": set it to "snapshot" (copy before the cutover) or "reindex" (wait for the producers), or keep this CT',
    );
  });

  it('every collection with at least as many points on the new instance (or an empty legacy) passes', () => {
    expect(dataGateRefusal('snapshot', [{ name: 'docs', legacyCount: 48, newCount: 50 }])).toBeUndefined();
    expect(dataGateRefusal('none', [])).toBeUndefined();
    expect(dataGateRefusal('reindex', [{ name: 'docs', legacyCount: 48, newCount: 47 }])).toMatch(
      /docs \(48 points; 47 on the new instance\)/,
    );
  });
});

describe('hostOfUrl', () => {
  it.each([
    ['http://10.0.0.152:6333/readyz', '10.0.0.152'],
    ['https://user:pw@qdrant.lan/x', 'qdrant.lan'],
    ['http://[fd00::5]:6333', '[fd00::5]'],
    ['HTTP://10.0.0.1', '10.0.0.1'],
    ['10.0.0.152:6333', undefined],
    ['', undefined],
  ])('%s → %s', (url, host) => {
    expect(hostOfUrl(url)).toBe(host);
  });
});
