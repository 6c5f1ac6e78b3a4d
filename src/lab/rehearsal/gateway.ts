/**
 * The rehearsal's gateway: the operator's site (dump, heredoc or committed file — src/lab/rehearsal/site-source.ts),
 * mapped onto the lab (site-mapping.ts), its other files laid out under the lab's nginx prefix, and `nginx -t` run
 * on the result under that prefix before the lab's nginx starts on it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressMap } from '../address-map';
import { ensureGatewayCertificate } from '../services/gateway-site';
import { layoutGatewayPrefix } from '../services/nginx';
import { mapGatewaySite, type MappedGateway } from './site-mapping';
import { RehearsalInputError, selectGatewaySite, type SiteSource } from './site-source';

export interface RehearsalGatewayOptions {
  /** The lab's copy of the checkout (read), and the operator's (named in the report). */
  checkout: string;
  phoenixDir: string;
  gatewayCtid: number;
  siteFile: string;
  gatewayDump?: string;
  prefix: string;
  gatewayHost: string;
  ports: { http: number; https: number };
  allocPort(realPort: number): Promise<number>;
  addressMap: AddressMap;
  serverMap?: Record<string, string>;
}

export interface RehearsalGateway {
  source: SiteSource;
  siteText: string;
  /** Replaces the lab's own conf.d (the CT's njs config and other http-level files). */
  confD?: Record<string, string>;
  notes: string[];
}

export async function prepareRehearsalGateway(o: RehearsalGatewayOptions): Promise<RehearsalGateway> {
  const selected = selectGatewaySite({
    phoenixDir: o.checkout,
    gatewayCtid: o.gatewayCtid,
    siteFile: o.siteFile,
    dumpFile: o.gatewayDump,
  });
  const mapped = await mapGatewaySite(selected, {
    gatewayHost: o.gatewayHost,
    ports: { 80: o.ports.http, 443: o.ports.https },
    allocPort: o.allocPort,
    certificate: ensureGatewayCertificate(path.join(o.prefix, 'ssl'), 'portainer.phoenix.local'),
    root: path.join(o.prefix, 'phoenix-root'),
    addressMap: o.addressMap,
    serverMap: o.serverMap,
  });
  writeMappedFiles(mapped);
  const confD = Object.keys(mapped.confD).length > 0 ? mapped.confD : undefined;
  // The report names the operator's file, not the lab's copy of it.
  const rel = path.relative(o.checkout, selected.source.file);
  const source =
    rel.startsWith('..') || path.isAbsolute(rel)
      ? selected.source
      : { ...selected.source, file: path.join(o.phoenixDir, rel) };
  return { source, siteText: mapped.site, confD, notes: [...selected.notes, ...mapped.notes] };
}

export function writeMappedFiles(mapped: MappedGateway): void {
  for (const d of mapped.dirs) fs.mkdirSync(d, { recursive: true });
  for (const [file, text] of Object.entries(mapped.files)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

/**
 * `nginx -t` on the mapped site under the lab's prefix only (never /etc/nginx): lays the prefix out as the lab's
 * nginx would and tests it. Throws a RehearsalInputError with nginx's words when it fails.
 */
export function testMappedSite(o: {
  prefix: string;
  siteName: string;
  siteText: string;
  confD?: Record<string, string>;
  source: SiteSource;
}): void {
  const layout = layoutGatewayPrefix({ prefix: o.prefix, siteName: o.siteName, siteText: o.siteText, confD: o.confD });
  try {
    execFileSync(layout.nginx, ['-t', '-p', o.prefix, '-c', layout.conf, '-e', layout.errorLog], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: Buffer };
    throw new RehearsalInputError(
      `the gateway site from the ${o.source.kind} ${o.source.file}${o.source.line ? `:${o.source.line}` : ''}, mapped onto the lab, fails nginx -t:\n${e.stderr?.toString().trim() ?? String(err)}`,
    );
  }
}
