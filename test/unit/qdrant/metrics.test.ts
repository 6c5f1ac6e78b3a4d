import { parsePrometheusText, requestTotals } from '../../../src/qdrant/metrics';
import { kindForStatus } from '../../../src/qdrant/errors';

const SCRAPE = `# HELP app_info information about qdrant server
# TYPE app_info gauge
app_info{name="qdrant",version="1.12.4"} 1
collections_total 2
# TYPE rest_responses_total counter
rest_responses_total{method="GET",endpoint="/collections",status="200"} 7
rest_responses_total{method="POST",endpoint="/collections/{name}/points/search",status="200"} 30
rest_responses_total{method="GET",endpoint="/readyz",status="200"} 100
rest_responses_total{method="GET",endpoint="/metrics",status="200"} 4
grpc_responses_total{endpoint="/qdrant.Points/Search"} 5
grpc_responses_total{endpoint="/grpc.health.v1.Health/Check"} 9
rest_responses_avg_duration_seconds{method="GET",endpoint="/collections"} 0.0003
weird line without value
label_escape{path="a\\"b"} 3 1700000000000
`;

describe('parsePrometheusText', () => {
  it('reads names, labels and values, skipping comments and malformed lines', () => {
    const samples = parsePrometheusText(SCRAPE);
    expect(samples.find((s) => s.name === 'app_info')).toEqual({
      name: 'app_info',
      labels: { name: 'qdrant', version: '1.12.4' },
      value: 1,
    });
    expect(samples.find((s) => s.name === 'collections_total')?.value).toBe(2);
    expect(samples.some((s) => s.name === 'weird')).toBe(false);
    expect(samples.find((s) => s.name === 'label_escape')).toEqual({
      name: 'label_escape',
      labels: { path: 'a"b' },
      value: 3,
    });
  });
});

describe('requestTotals', () => {
  it('sums REST and gRPC responses and separates probe endpoints from real traffic', () => {
    expect(requestTotals(parsePrometheusText(SCRAPE))).toEqual({
      requestsTotal: 7 + 30 + 100 + 4 + 5 + 9,
      dataRequestsTotal: 7 + 30 + 5,
    });
  });
  it('is zero for an instance without counters', () => {
    expect(requestTotals(parsePrometheusText('collections_total 0\n'))).toEqual({
      requestsTotal: 0,
      dataRequestsTotal: 0,
    });
  });
});

describe('kindForStatus', () => {
  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [404, 'not-found'],
    [503, 'not-ready'],
    [400, 'http'],
    [500, 'http'],
  ])('%i → %s', (status, kind) => expect(kindForStatus(status)).toBe(kind));
});
