/** The workflow's "wait for every branch, then the first failure" helper, on plain promises (it does no I/O). */
import { allOrFirstFailure } from '../../../src/workflows/text';

describe('allOrFirstFailure', () => {
  it("gives the branches' values in their order, a plain value (a step not asked) as it is", async () => {
    const values: [number, string, undefined] = await allOrFirstFailure([
      Promise.resolve(1),
      new Promise<string>((resolve) => setTimeout(() => resolve('late'), 5)),
      undefined,
    ]);
    expect(values).toEqual([1, 'late', undefined]);
  });

  it('waits for every branch, then fails with the first failure in branch order, not the first to fail', async () => {
    const settled: string[] = [];
    const late = new Promise<never>((_, reject) =>
      setTimeout(() => {
        settled.push('first branch');
        reject(new Error('first branch failed'));
      }, 10),
    );
    const early = Promise.reject(new Error('second branch failed')).finally(() => settled.push('second branch'));
    const slow = new Promise<string>((resolve) =>
      setTimeout(() => {
        settled.push('third branch');
        resolve('done');
      }, 20),
    );
    await expect(allOrFirstFailure([late, early, slow])).rejects.toThrow('first branch failed');
    expect(settled).toEqual(['second branch', 'first branch', 'third branch']);
  });
});
