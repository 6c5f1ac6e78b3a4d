/**
 * Plan `sources.write`: the run's own activity brings Phoenix's gateway sources in step after the verified cutover —
 * the same byte-preserving rewrite as `phoenix-migrate sources --write`, idempotent, never thrown at the run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPhoenixSourcesActivities } from '../../../src/activities/phoenix-sources';
import { loadAndResolvePlan } from '../../../src/config';
import { copyCheckout, SCRIPT, SITE, writePlan, type Checkout } from './checkout';

const gateway = {
  ctid: 101,
  siteFile: '/etc/nginx/sites-available/vllm_gateway',
  upstream: 'qdrant_service',
  newServers: ['10.0.0.102:6333'],
};
const { updatePhoenixSources } = createPhoenixSourcesActivities();

describe('updatePhoenixSources', () => {
  let c: Checkout;
  beforeEach(() => (c = copyCheckout()));
  afterEach(() => c.remove());

  it('rewrites only the server line of the upstream in both sources, a backup beside each; a second call writes nothing', async () => {
    const before = c.snapshot();
    const first = await updatePhoenixSources({ dir: c.dir, gateway });
    expect(first.updated.map((u) => u.file).sort()).toEqual([SCRIPT, SITE].sort());
    expect(first.notWritten).toEqual([]);
    const after = c.snapshot();
    for (const rel of [SITE, SCRIPT]) {
      const was = before[rel].split('\n');
      const now = after[rel].split('\n');
      expect(now).toHaveLength(was.length);
      const changed = now.flatMap((l, i) => (l === was[i] ? [] : [[was[i], l]]));
      expect(changed).toEqual([
        [expect.stringContaining('10.0.0.152:6333'), expect.stringContaining('10.0.0.102:6333')],
      ]);
      const backup = first.updated.find((u) => u.file === rel)?.backup ?? '';
      expect(fs.readFileSync(path.join(c.dir, backup), 'latin1')).toBe(before[rel]);
    }
    const second = await updatePhoenixSources({ dir: c.dir, gateway });
    expect(second.updated).toEqual([]);
    expect(second.current.sort()).toEqual([`${SCRIPT} (heredoc)`, `${SITE} (committed site)`].sort());
    expect(c.snapshot()).toEqual(after);
  });

  it("a checkout that is not on the worker's machine, or a source defining the upstream twice: reported, nothing written", async () => {
    const missing = await updatePhoenixSources({ dir: path.join(c.root, 'nowhere'), gateway });
    expect(missing.notWritten).toEqual([expect.stringMatching(/is not a directory on the worker's machine/)]);
    const site = c.read(SITE);
    c.write(
      SITE,
      site.replace(/upstream qdrant_service \{[^}]*\}/, (m) => `${m}\n${m}`),
    );
    const before = c.snapshot();
    const twice = await updatePhoenixSources({ dir: c.dir, gateway });
    expect(twice.updated).toEqual([]);
    expect(twice.notWritten.join('\n')).toMatch(/qdrant_service/);
    expect(c.snapshot()).toEqual(before);
  });
});

describe('plan sources.write', () => {
  let c: Checkout;
  beforeEach(() => (c = copyCheckout()));
  afterEach(() => c.remove());

  it('is carried into the resolved plan with phoenix.dir', () => {
    const resolved = loadAndResolvePlan(writePlan(c, { sources: { write: true } }));
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
    expect(resolved.plan.phoenixSources).toMatchObject({ dir: c.dir, write: true });
  });

  it('without phoenix.dir is an error naming the field', () => {
    const file = writePlan(c, {
      phoenix: {
        vmConfigs: 'phoenix_hypervisor/etc/phoenix_vm_configs.json',
        lxcConfigs: 'phoenix_hypervisor/etc/phoenix_lxc_configs.json',
      },
      sources: { write: true },
    });
    const r = loadAndResolvePlan(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toContainEqual(
      expect.objectContaining({ path: '$.sources.write', message: expect.stringMatching(/names none/) }),
    );
  });
});
