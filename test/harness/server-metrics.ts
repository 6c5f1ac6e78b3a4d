/**
 * Counting the RPCs the shared Temporal dev server answered, from its Prometheus metrics (global-setup.ts starts it
 * with --metrics-port). `service_requests{namespace, operation, service_name="frontend"}` counts every call a client
 * or worker made; tests that count run in ISOLATED_NAMESPACE so that other test files' calls stay out of the count.
 */
import { request } from 'undici';

/** Pre-created by global-setup.ts; no other test uses it. (Prometheus labels turn `-` into `_`: keep it plain.) */
export const ISOLATED_NAMESPACE = 'phoenixisolated';

export async function frontendRequests(namespace: string, operation: string): Promise<number> {
  const url = process.env.PHOENIX_TEST_TEMPORAL_METRICS;
  if (!url)
    throw new Error('PHOENIX_TEST_TEMPORAL_METRICS is not set: run through jest with test/harness/global-setup.ts');
  const res = await request(url);
  const text = await res.body.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('service_requests{')) continue;
    const labels = line.slice(line.indexOf('{') + 1, line.indexOf('}'));
    if (
      labels.includes(`namespace="${namespace}"`) &&
      labels.includes(`operation="${operation}"`) &&
      labels.includes('service_name="frontend"')
    )
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
