/**
 * A small parser for the Prometheus text format Qdrant serves at /metrics, plus the sums we need to tell whether
 * anyone still talks to an instance.
 */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Parses samples; comment and malformed lines are skipped (a scrape must not fail on one odd line). */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const lm of m[2].matchAll(LABEL)) labels[lm[1]] = unescapeLabel(lm[2]);
    }
    const value = parseValue(m[3]);
    if (Number.isNaN(value)) continue;
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** Endpoints that monitoring and our own probes hit: they say nothing about real users. */
export const PROBE_ENDPOINTS: readonly string[] = ['/', '/healthz', '/livez', '/readyz', '/metrics', '/telemetry'];

export interface RequestTotals {
  /** All REST + gRPC responses the instance has counted since it started. */
  requestsTotal: number;
  /** The same without health/metrics/telemetry endpoints: traffic from real clients. */
  dataRequestsTotal: number;
}

export function requestTotals(samples: MetricSample[]): RequestTotals {
  let requestsTotal = 0;
  let dataRequestsTotal = 0;
  for (const s of samples) {
    if (s.name !== 'rest_responses_total' && s.name !== 'grpc_responses_total') continue;
    requestsTotal += s.value;
    const endpoint = s.labels.endpoint ?? '';
    if (!PROBE_ENDPOINTS.includes(endpoint) && !/health/i.test(endpoint)) dataRequestsTotal += s.value;
  }
  return { requestsTotal, dataRequestsTotal };
}
