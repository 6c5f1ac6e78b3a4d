/**
 * Docker does not run here, so the production-like Temporal compose file is checked by parsing it: the services
 * exist, every image is pinned, and the start-up order is postgres → schema → server → namespace → UI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

interface Service {
  image: string;
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: unknown;
}

const compose = parse(fs.readFileSync(path.join(__dirname, '../../../docker-compose.temporal.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;

describe('docker-compose.temporal.yml', () => {
  it('has the services of the upstream layout', () => {
    expect(Object.keys(services).sort()).toEqual([
      'postgresql',
      'temporal',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
    ]);
  });

  it.each(Object.entries(services))('pins the image of %s to an exact version', (_name, service) => {
    const [, tag] = service.image.split(':');
    expect(tag).toBeDefined();
    expect(tag).not.toBe('latest');
    expect(tag).toMatch(/^\d+\.\d+(\.\d+)?$/);
  });

  it('chains start-up: postgres (healthy) → schema (done) → server (healthy) → namespace (done) → UI', () => {
    expect(services.postgresql.healthcheck).toBeDefined();
    expect(services['temporal-schema'].depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(services.temporal.depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(services.temporal.healthcheck).toBeDefined();
    expect(services['temporal-namespace'].depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(services['temporal-ui'].depends_on).toEqual({
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
  });

  it('registers the search attributes the migration sets', () => {
    const script = services['temporal-namespace'].command?.join('\n') ?? '';
    expect(script).toContain('search-attribute create');
    expect(script).toMatch(/MigrationPhase/);
    expect(script).toMatch(/PlanName/);
    expect(script).toContain('--type Keyword');
  });

  it('keeps postgres data in a named volume and serves the UI on 8080 and the frontend on 7233, on loopback only', () => {
    expect(services.postgresql.volumes?.[0]).toMatch(/^temporal-postgres-data:/);
    expect(Object.keys(compose.volumes)).toContain('temporal-postgres-data');
    // Unauthenticated: whoever reaches them could answer a run (approve-decommission), so not on every interface.
    expect(services['temporal-ui'].ports).toEqual(['127.0.0.1:8080:8080']);
    expect(services.temporal.ports).toEqual(['127.0.0.1:7233:7233']);
  });

  it('mounts its dynamic config, which turns on eager activities (as the lab does)', () => {
    const env = (services.temporal as Service & { environment: Record<string, string> }).environment;
    const mount = services.temporal.volumes?.find((v) => v.endsWith(`:${env.DYNAMIC_CONFIG_FILE_PATH}:ro`));
    expect(mount).toBeDefined();
    const file = path.join(__dirname, '../../../', mount!.split(':')[0]);
    expect(parse(fs.readFileSync(file, 'utf8'))).toEqual({
      'system.enableActivityEagerExecution': [{ value: true }],
    });
  });
});
