/** The dependency scan before decommissioning (pure): who still points at a legacy CT keeps it alive. */
import type { LegacyGuest } from '../../../src/config/resolved-plan';
import { hostOfUrl, scanDependencies, type UpstreamRef } from '../../../src/workflows/gates';

const legacy: LegacyGuest[] = [
  { ctid: 950, name: 'vllm-embed', node: 'phoenix', ip: '10.0.0.150' },
  { ctid: 951, name: 'vllm-rerank', node: 'phoenix', ip: '10.0.0.151' },
  { ctid: 952, name: 'qdrant-VSCodeRag', node: 'phoenix', ip: '10.0.0.152' },
  { ctid: 953, name: 'old-gateway', node: 'phoenix' },
];

function upstream(name: string, ...addresses: string[]): UpstreamRef {
  return {
    name,
    servers: addresses.map((address) => {
      const [host, port] = address.split(':');
      return { host, port: port ? Number(port) : null, address };
    }),
  };
}

const scan = (upstreams: UpstreamRef[], guestDependencies: Record<string, number[]> = {}) =>
  scanDependencies({ legacy, movedUpstream: 'qdrant_service', upstreams, guestDependencies });

describe('scanDependencies', () => {
  it('the moved upstream does not keep its old server alive; with nothing else pointing anywhere, all go', () => {
    const r = scan([upstream('qdrant_service', '10.0.0.152:6333')]);
    expect(r.refused).toEqual([]);
    expect(r.deletable.map((g) => g.ctid)).toEqual([950, 951, 952, 953]);
  });

  it('another upstream that still routes to a legacy CT refuses it, naming the upstream and the address', () => {
    const r = scan([
      upstream('qdrant_service', '10.0.0.102:6333'),
      upstream('embed_service', '10.0.0.150:8000'),
      upstream('rerank_service', '10.0.0.151:8001', '10.0.0.151:8002'),
    ]);
    expect(r.deletable.map((g) => g.ctid)).toEqual([952, 953]);
    expect(r.refused).toEqual([
      { ctid: 950, reason: 'CT 950 (vllm-embed): nginx upstream embed_service still routes to 10.0.0.150:8000' },
      { ctid: 951, reason: 'CT 951 (vllm-rerank): nginx upstream rerank_service still routes to 10.0.0.151:8001' },
    ]);
  });

  it('matches hosts exactly, never by prefix (10.0.0.15 is not 10.0.0.150)', () => {
    const r = scan([upstream('other', '10.0.0.15:80'), upstream('another', '10.0.0.1520:80')]);
    expect(r.refused).toEqual([]);
  });

  it('a kept guest that declares a legacy CT as a dependency refuses it; several reasons are joined', () => {
    const r = scan([upstream('embed_service', '10.0.0.150:8000')], { '102': [950, 953], '101': [999] });
    expect(r.refused).toEqual([
      {
        ctid: 950,
        reason:
          'CT 950 (vllm-embed): nginx upstream embed_service still routes to 10.0.0.150:8000; guest 102 declares it as a dependency',
      },
      { ctid: 953, reason: 'CT 953 (old-gateway): guest 102 declares it as a dependency' },
    ]);
    expect(r.deletable.map((g) => g.ctid)).toEqual([951, 952]);
  });

  it('a dependent that is itself being decommissioned does not keep a legacy CT alive', () => {
    const r = scan([], { '951': [950], '953': [952] });
    expect(r.refused).toEqual([]);
    expect(r.deletable).toHaveLength(4);
  });

  it('a legacy CT without a known IP is checked by its declared dependents only', () => {
    const r = scan([upstream('anything', '10.0.0.153:80')], { '200': [953] });
    expect(r.refused.map((x) => x.ctid)).toEqual([953]);
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
