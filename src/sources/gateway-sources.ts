/**
 * Phoenix's own copies of the gateway site, in a checkout: the committed `etc/nginx/sites-available/<site>` and the
 * heredoc(s) in `bin/phoenix_hypervisor_lxc_<ctid>.sh` that write the live site when LXC <ctid> is (re)built. After a
 * cutover they still route the moved upstream to the old servers, so the next `phoenix create <ctid>` would revert it:
 * this finds them and computes the same byte-preserving rewrite the cutover makes, file by file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CHECKOUT } from '../config/phoenix-dir';
import { readUpstreams, rewriteUpstream } from '../nginx/upstream';
import { findHeredocs } from './heredoc';

export interface GatewayRef {
  ctid: number;
  /** The live site file's path in the gateway (its basename names the committed copy). */
  siteFile: string;
  upstream: string;
  newServers: string[];
}

export interface GatewaySource {
  kind: 'committed site' | 'heredoc';
  /** Absolute path on this machine. */
  file: string;
  /** Path inside the checkout, as the operator knows it. */
  relative: string;
  /** 1-based line of the `upstream` keyword (in the script, for a heredoc). */
  line: number;
  /** The upstream's servers as this source writes them. */
  servers: string[];
}

export interface SourceFileEdit {
  file: string;
  relative: string;
  before: string;
  after: string;
  sources: GatewaySource[];
}

export interface GatewaySourcesResult {
  /** Every source that defines the upstream. */
  sources: GatewaySource[];
  /** The files to rewrite (those whose text would change). */
  edits: SourceFileEdit[];
  /** What is worth saying but blocks nothing (a checkout without the LXC script, a heredoc for another file …). */
  notes: string[];
  /** What blocks the rewrite (an upstream defined twice, a file that does not parse); named. */
  errors: string[];
}

export function committedSitePath(dir: string, siteFile: string): string {
  return path.join(dir, CHECKOUT.sitesAvailable, path.posix.basename(siteFile));
}

export function lxcScriptPath(dir: string, ctid: number): string {
  return path.join(dir, CHECKOUT.lxcScript(ctid));
}

/** The sources in checkout `dir` that define `ref.upstream`, and the rewrite of each to `ref.newServers`. */
export function gatewaySources(dir: string, ref: GatewayRef): GatewaySourcesResult {
  const out: GatewaySourcesResult = { sources: [], edits: [], notes: [], errors: [] };
  const rel = (file: string) => path.relative(dir, file);

  const site = committedSitePath(dir, ref.siteFile);
  const siteText = readIfThere(site, out);
  if (siteText === undefined) out.notes.push(`no committed site ${rel(site)} in the checkout`);
  else {
    const edit = rewriteText(siteText, ref, `${rel(site)}`, out);
    if (edit) {
      out.sources.push({ kind: 'committed site', file: site, relative: rel(site), ...edit.found });
      if (edit.after !== siteText)
        out.edits.push({
          file: site,
          relative: rel(site),
          before: siteText,
          after: edit.after,
          sources: [out.sources[out.sources.length - 1]],
        });
    }
  }

  const script = lxcScriptPath(dir, ref.ctid);
  const scriptText = readIfThere(script, out);
  if (scriptText === undefined) {
    out.notes.push(`no ${rel(script)} in the checkout: only the committed site is Phoenix's copy of the gateway site`);
    return out;
  }
  const parsed = findHeredocs(scriptText);
  if (!parsed.ok) {
    out.errors.push(`${rel(script)}: ${parsed.error}`);
    return out;
  }
  let after = scriptText;
  const found: GatewaySource[] = [];
  // last first, so earlier offsets stay valid while we splice
  for (const doc of [...parsed.heredocs].reverse()) {
    let names: string[];
    try {
      names = readUpstreams(doc.body).map((u) => u.name);
    } catch {
      if (doc.target && path.posix.basename(doc.target) === path.posix.basename(ref.siteFile))
        out.errors.push(
          `${rel(script)}: the heredoc on line ${doc.line} writes ${doc.target} but does not read as nginx config`,
        );
      continue;
    }
    if (!names.includes(ref.upstream)) {
      if (doc.target && path.posix.basename(doc.target) === path.posix.basename(ref.siteFile))
        out.notes.push(
          `${rel(script)}: the heredoc on line ${doc.line} writes ${doc.target} without an upstream ${ref.upstream}`,
        );
      continue;
    }
    const where = `${rel(script)} (heredoc from line ${doc.line}${doc.target ? `, writing ${doc.target}` : ''})`;
    const edit = rewriteText(doc.body, ref, where, out);
    if (!edit) continue;
    const bodyLineOffset = scriptText.slice(0, doc.bodyStart).split('\n').length - 1;
    found.unshift({
      kind: 'heredoc',
      file: script,
      relative: rel(script),
      line: edit.found.line + bodyLineOffset,
      servers: edit.found.servers,
    });
    after = after.slice(0, doc.bodyStart) + edit.after + after.slice(doc.bodyEnd);
  }
  out.sources.push(...found);
  if (found.length === 0) out.notes.push(`${rel(script)} has no heredoc defining upstream ${ref.upstream}`);
  if (after !== scriptText)
    out.edits.push({ file: script, relative: rel(script), before: scriptText, after, sources: found });
  return out;
}

/** The sources that still route the upstream elsewhere than `newServers`: a converge would revert the cutover. */
export function staleSources(result: GatewaySourcesResult, newServers: string[]): GatewaySource[] {
  return result.sources.filter(
    (s) => !(s.servers.length === newServers.length && s.servers.every((x) => newServers.includes(x))),
  );
}

function readIfThere(file: string, out: GatewaySourcesResult): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') out.errors.push(`${file} cannot be read (${code ?? (err as Error).message})`);
    return undefined;
  }
}

function rewriteText(
  text: string,
  ref: GatewayRef,
  where: string,
  out: GatewaySourcesResult,
): { after: string; found: { line: number; servers: string[] } } | undefined {
  let upstreams;
  try {
    upstreams = readUpstreams(text);
  } catch (err) {
    out.errors.push(`${where}: ${(err as Error).message}`);
    return undefined;
  }
  const blocks = upstreams.filter((u) => u.name === ref.upstream);
  if (blocks.length === 0) {
    out.notes.push(`${where} does not define upstream ${ref.upstream}`);
    return undefined;
  }
  const r = rewriteUpstream(text, ref.upstream, ref.newServers);
  if (!r.ok) {
    out.errors.push(`${where}: ${r.error}`);
    return undefined;
  }
  return { after: r.text, found: { line: blocks[0].line, servers: r.previousServers } };
}
