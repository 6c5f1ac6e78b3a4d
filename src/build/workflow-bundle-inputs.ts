/**
 * What goes into a workflow bundle: the workflows and their interceptors (src/workflows/interceptors.ts puts the run's
 * phase on every activity it schedules). Every bundler — `npm run build`, the worker's fallback, the bench, the tests —
 * uses this, so no bundle lacks the interceptors.
 */
export function workflowBundleInputs(workflowsPath = require.resolve('../workflows')): {
  workflowsPath: string;
  workflowInterceptorModules: string[];
} {
  return { workflowsPath, workflowInterceptorModules: [require.resolve('../workflows/interceptors')] };
}
