import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGatewayDiff, runGatewayRefs } from '../../../src/cli/gateway';

const SITE = `upstream embedding_service { server 10.0.0.151:8000; }
upstream qdrant_service { server 10.0.0.152:6333; }
upstream n8n_service {
    server 10.0.0.154:5678 weight=2; # primary
}
server { listen 80; location /qdrant/ { proxy_pass http://qdrant_service/; } }
`;

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('gateway CLI handlers', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'phoenix-cli-gw-'));
    file = join(dir, 'phoenix-gateway');
    writeFileSync(file, SITE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('diff prints the unified diff of the cutover and exits 0', async () => {
    const c = captureIo();
    expect(await runGatewayDiff({ file, upstream: 'qdrant_service', servers: ['10.0.0.102:6333'] }, c.io)).toBe(0);
    expect(c.out.join('')).toContain(
      '-upstream qdrant_service { server 10.0.0.152:6333; }\n+upstream qdrant_service { server 10.0.0.102:6333; }',
    );
  });

  it('diff explains a missing upstream and exits 2', async () => {
    const c = captureIo();
    expect(await runGatewayDiff({ file, upstream: 'qdrant', servers: ['10.0.0.102:6333'] }, c.io)).toBe(2);
    expect(c.err.join('')).toMatch(
      /upstream "qdrant" not found; the file defines embedding_service, qdrant_service, n8n_service/,
    );
  });

  it('diff says when nothing would change, and fails on an unreadable file', async () => {
    const c = captureIo();
    expect(await runGatewayDiff({ file, upstream: 'qdrant_service', servers: ['10.0.0.152:6333'] }, c.io)).toBe(0);
    expect(c.out.join('')).toMatch(/already points at/);
    expect(await runGatewayDiff({ file: join(dir, 'nope'), upstream: 'q', servers: ['a:1'] }, c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/cannot read .*nope: ENOENT/);
  });

  it('refs lists every upstream, or only those pointing at given IPs, as text or JSON', async () => {
    const all = captureIo();
    expect(await runGatewayRefs({ file }, all.io)).toBe(0);
    expect(all.out).toHaveLength(3);
    expect(all.out[2]).toMatch(/^n8n_service\s+line 3\s+10\.0\.0\.154:5678 weight=2$/);

    const some = captureIo();
    expect(await runGatewayRefs({ file, ips: ['10.0.0.152', '10.0.0.154'], json: true }, some.io)).toBe(0);
    expect((JSON.parse(some.out.join('')) as { name: string }[]).map((u) => u.name)).toEqual([
      'qdrant_service',
      'n8n_service',
    ]);

    const none = captureIo();
    expect(await runGatewayRefs({ file, ips: ['10.0.0.99'] }, none.io)).toBe(0);
    expect(none.out.join('')).toMatch(/no upstream .* points at 10\.0\.0\.99/);
  });
});
