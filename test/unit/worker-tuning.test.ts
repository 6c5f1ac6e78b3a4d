import {
  DEFAULT_ACTIVITY_SLOTS,
  DEFAULT_HEAP_GROWING_PERCENT,
  DEFAULT_WORKFLOW_SLOTS,
  heapGrowthFlag,
  ioBoundWorkerOptions,
} from '../../src/worker-tuning';

describe('worker tuning', () => {
  it('activity slots: the I/O-bound default, an override, and a clear error for a bad value', () => {
    expect(ioBoundWorkerOptions({}).maxConcurrentActivityTaskExecutions).toBe(DEFAULT_ACTIVITY_SLOTS);
    expect(ioBoundWorkerOptions({ PHOENIX_ACTIVITY_SLOTS: '250' }).maxConcurrentActivityTaskExecutions).toBe(250);
    expect(() => ioBoundWorkerOptions({ PHOENIX_ACTIVITY_SLOTS: '0' })).toThrow(
      /PHOENIX_ACTIVITY_SLOTS must be a whole number ≥ 1 \(got "0"\)/,
    );
  });

  it('workflow task slots: room for a fleet of 100 and its queries by default, an override, and a clear error', () => {
    expect(DEFAULT_WORKFLOW_SLOTS).toBe(200);
    expect(ioBoundWorkerOptions({}).maxConcurrentWorkflowTaskExecutions).toBe(DEFAULT_WORKFLOW_SLOTS);
    expect(ioBoundWorkerOptions({ PHOENIX_WORKFLOW_SLOTS: '40' }).maxConcurrentWorkflowTaskExecutions).toBe(40);
    expect(() => ioBoundWorkerOptions({ PHOENIX_WORKFLOW_SLOTS: '2.5' })).toThrow(
      /PHOENIX_WORKFLOW_SLOTS must be a whole number ≥ 1 \(got "2.5"\); unset it for the default 200/,
    );
  });

  it('heap growth: 50 % by default, the variable overrides it, 0 leaves V8 alone', () => {
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(50);
    expect(heapGrowthFlag({}, [])).toBe('--heap-growing-percent=50');
    expect(heapGrowthFlag({ PHOENIX_HEAP_GROWING_PERCENT: '100' }, [])).toBe('--heap-growing-percent=100');
    expect(heapGrowthFlag({ PHOENIX_HEAP_GROWING_PERCENT: '' }, [])).toBe('--heap-growing-percent=50');
    expect(heapGrowthFlag({ PHOENIX_HEAP_GROWING_PERCENT: '0' }, [])).toBeUndefined();
  });

  it("heap growth: the operator's own node flags win (command line or NODE_OPTIONS), over the variable (still checked)", () => {
    expect(heapGrowthFlag({}, ['--max-old-space-size=2048'])).toBeUndefined();
    expect(heapGrowthFlag({}, ['--heap_growing_percent=30'])).toBeUndefined();
    expect(heapGrowthFlag({ NODE_OPTIONS: '--max-old-space-size=4096 --require x' }, [])).toBeUndefined();
    expect(heapGrowthFlag({ PHOENIX_HEAP_GROWING_PERCENT: '80' }, ['--max-old-space-size=2048'])).toBeUndefined();
    expect(() => heapGrowthFlag({ PHOENIX_HEAP_GROWING_PERCENT: 'x' }, ['--max-old-space-size=2048'])).toThrow(
      /PHOENIX_HEAP_GROWING_PERCENT must be/,
    );
  });

  it('heap growth: a bad value names the variable, the range and what to do', () => {
    for (const bad of ['x', '-5', '1.5', '5000'])
      expect(() => heapGrowthFlag({ PHOENIX_HEAP_GROWING_PERCENT: bad }, [])).toThrow(
        new RegExp(
          `PHOENIX_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 \\(got "${bad.replace('.', '\\.')}"\\); unset it`,
        ),
      );
  });
});
