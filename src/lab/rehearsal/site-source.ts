/**
 * Which copy of the gateway site a rehearsal serves, in this order: an `nginx -T` dump the operator took on the
 * gateway CT (what it really loads), else the heredoc(s) in the script that builds the gateway CT (what the next
 * `phoenix create` writes, with its njs config and scripts), else the committed `etc/nginx/sites-available/<site>`
 * (which need not be what the CT serves). Reads only: the checkout is never written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CHECKOUT } from '../../config/phoenix-dir';
import { splitNginxDump } from '../../nginx/loaded-config';
import { findHeredocs, type Heredoc } from '../../sources/heredoc';

export type SiteSourceKind = 'nginx-T dump' | 'heredoc' | 'committed file';

/** Where the rehearsal's gateway site came from (the lab report's `gatewaySiteSource`). */
export interface SiteSource {
  kind: SiteSourceKind;
  /** The file it was read from (the dump, the script, the committed site). */
  file: string;
  /** 1-based line: the dump's `# configuration file` header, or the heredoc's opening command. */
  line?: number;
}

/** One nginx file as the gateway CT has it, at its live absolute path. */
export interface GatewayFile {
  path: string;
  text: string;
  /** `file:line` where its text starts, for messages. */
  origin: string;
}

export interface GatewaySiteFiles {
  source: SiteSource;
  site: GatewayFile;
  /** Other files the source gives: http-level configs (conf.d), njs scripts, included snippets. */
  files: GatewayFile[];
  /** Which of `files` nginx loads at http level (the `conf.d/*.conf` of the CT). */
  httpConfs: string[];
  notes: string[];
}

export class RehearsalInputError extends Error {}

const HEADER = /^# configuration file (.+):$/;
const isHttpConf = (p: string) => /^\/etc\/nginx\/conf\.d\/[^/]+\.conf$/.test(p);

export interface SiteSelection {
  phoenixDir: string;
  gatewayCtid: number;
  /** The plan's `gateway.siteFile` (the live path in the CT). */
  siteFile: string;
  /** An `nginx -T` dump taken in the gateway CT. */
  dumpFile?: string;
}

export function selectGatewaySite(o: SiteSelection): GatewaySiteFiles {
  if (o.dumpFile !== undefined) return fromDump(o);
  const script = path.join(o.phoenixDir, CHECKOUT.lxcScript(o.gatewayCtid));
  const notes: string[] = [];
  if (fs.existsSync(script)) {
    const fromScript = fromHeredocs(o, script);
    if (fromScript) return fromScript;
    notes.push(`${CHECKOUT.lxcScript(o.gatewayCtid)} writes no ${path.basename(o.siteFile)} site from a heredoc`);
  } else notes.push(`the checkout has no ${CHECKOUT.lxcScript(o.gatewayCtid)}`);
  const committed = path.join(o.phoenixDir, CHECKOUT.sitesAvailable, path.basename(o.siteFile));
  if (!fs.existsSync(committed))
    throw new RehearsalInputError(
      `no gateway site to rehearse: no --gateway-dump, no heredoc for ${path.basename(o.siteFile)} in ${CHECKOUT.lxcScript(o.gatewayCtid)}, and no ${path.join(CHECKOUT.sitesAvailable, path.basename(o.siteFile))} in ${o.phoenixDir}. ` +
        `Take a dump on the gateway (pct exec ${o.gatewayCtid} -- nginx -T > gateway-dump.txt) and pass --gateway-dump gateway-dump.txt`,
    );
  notes.push(
    'the committed site need not be what the gateway CT serves: pass --gateway-dump (nginx -T on the CT) to rehearse the live one',
  );
  return {
    source: { kind: 'committed file', file: committed },
    site: { path: o.siteFile, text: fs.readFileSync(committed, 'utf8'), origin: `${committed}:1` },
    files: [],
    httpConfs: [],
    notes,
  };
}

const sameSite = (live: string, siteFile: string) =>
  live === siteFile ||
  (/^\/etc\/nginx\/sites-(available|enabled)\//.test(live) && path.basename(live) === path.basename(siteFile));

function fromDump(o: SiteSelection): GatewaySiteFiles {
  const dumpFile = path.resolve(o.dumpFile!);
  let text: string;
  try {
    text = fs.readFileSync(dumpFile, 'utf8');
  } catch (err) {
    throw new RehearsalInputError(`--gateway-dump ${dumpFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const headerLines = new Map<string, number>();
  text.split('\n').forEach((l, i) => {
    const m = HEADER.exec(l);
    if (m && !headerLines.has(m[1])) headerLines.set(m[1], i + 1);
  });
  const parts = splitNginxDump(text);
  if (parts.length === 0)
    throw new RehearsalInputError(
      `--gateway-dump ${dumpFile} holds no "# configuration file PATH:" section: it is not nginx -T output (take it with: pct exec ${o.gatewayCtid} -- nginx -T)`,
    );
  const origin = (p: string) => `${dumpFile}:${(headerLines.get(p) ?? 0) + 1}`;
  const site = parts.find((p) => p.path === o.siteFile) ?? parts.find((p) => sameSite(p.path, o.siteFile));
  if (!site)
    throw new RehearsalInputError(
      `--gateway-dump ${dumpFile} does not show the site ${o.siteFile} (it shows: ${parts.map((p) => p.path).join(', ')}); check gateway.siteFile in the plan`,
    );
  const files = parts.filter((p) => p !== site).map((p) => ({ path: p.path, text: p.text, origin: origin(p.path) }));
  const httpConfs = files.map((f) => f.path).filter(isHttpConf);
  // nginx -T prints no njs scripts: the LXC script's heredocs may hold them (only what the dump loads is used).
  const notes: string[] = [];
  const script = path.join(o.phoenixDir, CHECKOUT.lxcScript(o.gatewayCtid));
  const docs = fs.existsSync(script) ? findHeredocs(fs.readFileSync(script, 'utf8')) : undefined;
  for (const d of docs?.ok ? docs.heredocs : [])
    if (
      d.target?.startsWith('/etc/nginx/') &&
      !/\.conf$|sites-/.test(d.target) &&
      !files.some((f) => f.path === d.target)
    ) {
      files.push({ path: d.target, text: shellBody(d, script), origin: `${script}:${d.line + 1}` });
      notes.push(
        `${d.target} (not in the dump) from ${CHECKOUT.lxcScript(o.gatewayCtid)} line ${d.line}, if the dump loads it`,
      );
    }
  return {
    source: { kind: 'nginx-T dump', file: dumpFile, line: headerLines.get(site.path) },
    site: { path: site.path, text: site.text, origin: origin(site.path) },
    files,
    httpConfs,
    notes,
  };
}

function fromHeredocs(o: SiteSelection, script: string): GatewaySiteFiles | undefined {
  const text = fs.readFileSync(script, 'utf8');
  const docs = findHeredocs(text);
  if (!docs.ok) throw new RehearsalInputError(`${script}: ${docs.error}`);
  const targeted = docs.heredocs.filter(
    (d): d is Heredoc & { target: string } => d.target !== undefined && d.target.startsWith('/etc/nginx/'),
  );
  // The script's last write of a file is what the CT ends up with.
  const last = new Map<string, Heredoc & { target: string }>();
  for (const d of targeted) last.set(d.target, d);
  const site = [...last.values()].find((d) => sameSite(d.target, o.siteFile));
  if (!site) return undefined;
  const file = (d: Heredoc & { target: string }): GatewayFile => ({
    path: d.target,
    text: shellBody(d, script),
    origin: `${script}:${d.line + 1}`,
  });
  const files = [...last.values()].filter((d) => d !== site).map(file);
  return {
    source: { kind: 'heredoc', file: script, line: site.line },
    site: file(site),
    files,
    httpConfs: files.map((f) => f.path).filter(isHttpConf),
    notes: [],
  };
}

/** What the shell writes for a heredoc body: verbatim when quoted; unquoted, only if it expands nothing. */
function shellBody(d: Heredoc, script: string): string {
  let body = d.stripTabs ? d.body.replace(/^\t+/gm, '') : d.body;
  if (d.quoted) return body;
  const expands = /(^|[^\\])(\$[A-Za-z_{(0-9]|`)/m.exec(body);
  if (expands)
    throw new RehearsalInputError(
      `${script}:${d.line}: the heredoc <<${d.delimiter} is unquoted and the shell expands "${expands[2]}" in it, so the lab cannot know what the CT gets. ` +
        `Quote its delimiter (<<'${d.delimiter}') in a copy of the checkout, or pass --gateway-dump (nginx -T on the CT)`,
    );
  body = body.replace(/\\([$`\\])/g, '$1');
  return body;
}
