/** A plan with phoenix.dir carries its stale Phoenix sources into the run's report and the status a person reads. */
import { loadAndResolvePlan } from '../../../src/config';
import { renderSnapshot } from '../../../src/cli/runs';
import { newReport, type MigrationReport } from '../../../src/workflows/report';
import { copyCheckout, writePlan, type Checkout } from './checkout';

describe('sources still to update', () => {
  let c: Checkout;
  beforeEach(() => (c = copyCheckout()));
  afterEach(() => c.remove());

  it('are listed in the report and in the status of a completed run', () => {
    const resolved = loadAndResolvePlan(writePlan(c));
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
    expect(resolved.plan.phoenixSources).toEqual({
      dir: c.dir,
      stale: [
        {
          file: 'etc/nginx/sites-available/vllm_gateway',
          kind: 'committed site',
          line: 4,
          servers: ['10.0.0.152:6333'],
        },
        { file: 'bin/phoenix_hypervisor_lxc_101.sh', kind: 'heredoc', line: 35, servers: ['10.0.0.152:6333'] },
      ],
      current: [],
      problems: [],
    });
    const report = newReport(resolved.plan, resolved.digest, false);
    expect(report.phoenixSources?.stillToUpdate).toEqual([
      'etc/nginx/sites-available/vllm_gateway (committed site, line 4): qdrant_service → 10.0.0.152:6333',
      'bin/phoenix_hypervisor_lxc_101.sh (heredoc, line 35): qdrant_service → 10.0.0.152:6333',
    ]);
    const text = renderSnapshot(
      {
        workflowId: 'migration-checkout-test',
        state: 'COMPLETED',
        report: { ...report, outcome: 'completed', phases: [], steps: [] } as unknown as MigrationReport,
      },
      'http://ui',
    );
    expect(text).toContain("Phoenix's sources still to update");
    expect(text).toContain(
      '  - bin/phoenix_hypervisor_lxc_101.sh (heredoc, line 35): qdrant_service → 10.0.0.152:6333',
    );
    expect(text).toContain(`then run: phoenix-migrate sources --plan <this plan> --phoenix-dir ${c.dir} --write`);
  });

  it('a plan without phoenix.dir has none (and its digest does not change)', () => {
    const resolved = loadAndResolvePlan('plans/qdrant-to-dr-phoenix.json');
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
    expect(resolved.plan.phoenixSources).toBeUndefined();
    expect(newReport(resolved.plan, resolved.digest, false).phoenixSources).toBeUndefined();
  });
});
