/**
 * The gateway's nginx files, as the operator's CT has them, mapped onto the lab: every 10.0.0.N onto 127.0.0.N,
 * `listen` ports onto the lab's ports on the gateway's loopback address, certificates onto the lab's certificate, and
 * every other absolute path (include, js_import, js_path, access_log, error_log, root, alias) under the lab's nginx
 * prefix. Anything else that names a path, a host the lab cannot map, or a target it cannot check is refused with
 * its file:line and what to do. Only the words it maps change; every other byte stays as the operator wrote it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mapAddresses, type AddressMap } from '../address-map';
import { passHost } from '../../nginx/loaded-config';
import { parseServerAddress } from '../../nginx/upstream';
import { applyEdits, nginxStatements, type NginxStatement } from './statements';
import { RehearsalInputError, type GatewayFile, type GatewaySiteFiles } from './site-source';

export interface SiteMappingContext {
  /** The gateway's loopback address (e.g. 127.0.0.153): every `listen` binds there. */
  gatewayHost: string;
  /** The CT's port → the lab's (80 and 443 at least); others are asked of `allocPort`. */
  ports: Record<number, number>;
  allocPort(realPort: number): Promise<number>;
  certificate: { cert: string; key: string };
  /** Where the CT's absolute paths live in the lab (e.g. `<prefix>/phoenix-root`). */
  root: string;
  addressMap: AddressMap;
  /** Mapped `HOST:PORT` → the lab's (a simulator that could not get the real port). */
  serverMap?: Record<string, string>;
  /** Stock files of this machine's nginx a site may include (`proxy_params`, `mime.types`); default /etc/nginx. */
  stockDir?: string;
}

export interface MappedGateway {
  site: string;
  /** Files for the lab: absolute lab path → text (included configs, njs scripts, stubs). */
  files: Record<string, string>;
  /** The CT's `conf.d/*.conf`, mapped, by file name (the lab's nginx loads them at http level). */
  confD: Record<string, string>;
  dirs: string[];
  ports: Record<number, number>;
  notes: string[];
}

const PASS = new Set(['proxy_pass', 'grpc_pass', 'uwsgi_pass', 'fastcgi_pass', 'scgi_pass', 'memcached_pass']);
const LOG = new Set(['access_log', 'error_log']);
const DIRS = new Set(['root', 'alias', 'js_path']);
const NJS_HANDLERS = new Set(['js_content', 'js_set', 'js_body_filter', 'js_header_filter', 'js_access']);
const PATHY = /(_file|_path|_log|_certificate|_certificate_key|_dhparam|_crl|_module)$|^(pid|lock_file|user)$/;
const isLoopback = (host: string) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === 'localhost';

interface Loaded {
  file: GatewayFile;
  /** Mapped text and its statements. */
  text: string;
  statements: NginxStatement[];
}

export async function mapGatewaySite(src: GatewaySiteFiles, ctx: SiteMappingContext): Promise<MappedGateway> {
  const out: MappedGateway = { site: '', files: {}, confD: {}, dirs: [], ports: { ...ctx.ports }, notes: [] };
  const labPath = (p: string) => path.join(ctx.root, p);
  const where = (f: GatewayFile, line: number) => {
    const m = /^(.*):(\d+)$/.exec(f.origin);
    return m ? `${m[1]}:${Number(m[2]) + line - 1}` : `${f.origin} line ${line}`;
  };
  const refuse = (f: GatewayFile, s: NginxStatement, what: string, todo: string): never => {
    throw new RehearsalInputError(`${where(f, s.line)}: ${what}. ${todo}`);
  };
  const byPath = new Map(src.files.map((f) => [f.path, f]));
  const load = (file: GatewayFile): Loaded => {
    const text = mapAddresses(file.text, ctx.addressMap);
    const parsed = nginxStatements(text);
    if (!parsed.ok) throw new RehearsalInputError(`${file.origin}: ${parsed.error}`);
    return { file, text, statements: parsed.statements };
  };

  // Everything nginx loads: the site, the http-level confs, and what they include (transitively).
  const loaded: Loaded[] = [load(src.site), ...src.httpConfs.map((p) => load(byPath.get(p)!))];
  const seen = new Set(loaded.map((l) => l.file.path));
  for (let k = 0; k < loaded.length; k++) {
    for (const s of loaded[k].statements.filter((st) => st.name === 'include')) {
      const target = s.args[0]?.value ?? '';
      const live = path.isAbsolute(target) ? target : path.posix.join('/etc/nginx', target);
      if (/[*?[]/.test(live)) {
        const re = new RegExp(
          `^${live
            .replace(/[.+^${}()|\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]')}$`,
        );
        for (const f of src.files.filter((x) => re.test(x.path) && !seen.has(x.path))) {
          seen.add(f.path);
          loaded.push(load(f));
        }
        continue;
      }
      if (seen.has(live)) continue;
      const given = byPath.get(live);
      const stock = path.join(ctx.stockDir ?? '/etc/nginx', path.posix.relative('/etc/nginx', live));
      if (given) loaded.push(load(given));
      else if (live.startsWith('/etc/nginx/') && !live.includes('..') && fs.existsSync(stock)) {
        loaded.push(load({ path: live, text: fs.readFileSync(stock, 'utf8'), origin: `${stock}:1` }));
        out.notes.push(`${live}: this machine's stock copy (${stock})`);
      } else
        refuse(
          loaded[k].file,
          s,
          `include ${target}: the rehearsal's source does not hold ${live}`,
          'An nginx -T dump of the gateway holds every file nginx loads: pass it with --gateway-dump',
        );
      seen.add(live);
    }
  }
  const upstreamNames = new Set(
    loaded.flatMap((l) => l.statements.filter((s) => s.name === 'upstream').map((s) => s.args[0]?.value)),
  );

  // Map each loaded file's words.
  const jsImports: { file: GatewayFile; s: NginxStatement; mapped: string; name: string }[] = [];
  const jsPaths: string[] = [];
  for (const l of loaded) {
    const edits: { start: number; end: number; text: string }[] = [];
    const setArg = (i: number, s: NginxStatement, value: string) =>
      edits.push({ start: s.args[i].start, end: s.args[i].end, text: quoteIfNeeded(value) });
    const absPath = (s: NginxStatement, i: number) => {
      const v = s.args[i].value;
      if (v.includes('$'))
        refuse(
          l.file,
          s,
          `${s.name} ${v}: a path with a variable cannot be mapped onto the lab`,
          'Write the path literally in a copy of the site',
        );
      return v;
    };
    for (const s of l.statements) {
      const first = s.args[0]?.value ?? '';
      if (s.name === 'listen') {
        if (first.startsWith('unix:'))
          refuse(l.file, s, `listen ${first}: a unix socket`, 'The lab serves the site on TCP: remove it from a copy');
        if (first.startsWith('[')) {
          edits.push({
            start: s.start,
            end: s.end,
            text: `# phoenix-migrate lab: IPv6 listen left out: ${l.text.slice(s.start, s.end).replace(/\s+/g, ' ')}`,
          });
          continue;
        }
        const m = /^(?:(.+):)?(\d+)$/.exec(first);
        const port = m ? Number(m[2]) : /^\d+$/.test(first) ? Number(first) : 80;
        if (out.ports[port] === undefined) out.ports[port] = await ctx.allocPort(port);
        setArg(0, s, `${ctx.gatewayHost}:${out.ports[port]}`);
      } else if (s.name === 'ssl_certificate' || s.name === 'ssl_certificate_key') {
        if (first.includes('$') || first.startsWith('data:'))
          refuse(
            l.file,
            s,
            `${s.name} ${first}: not a file the lab can stand in for`,
            'Name the file literally in a copy of the site',
          );
        setArg(0, s, s.name === 'ssl_certificate' ? ctx.certificate.cert : ctx.certificate.key);
      } else if (s.name === 'include') {
        const v = absPath(s, 0);
        setArg(0, s, labPath(path.isAbsolute(v) ? v : path.posix.join('/etc/nginx', v)));
        if (/[*?[]/.test(v)) out.dirs.push(path.dirname(labPath(path.isAbsolute(v) ? v : `/etc/nginx/${v}`)));
      } else if (s.name === 'js_import') {
        const i = s.args.length - 1;
        const v = absPath(s, i);
        const mapped = path.isAbsolute(v) ? labPath(v) : v;
        if (mapped !== v) setArg(i, s, mapped);
        const name = s.args.length === 3 ? s.args[0].value : path.basename(v).replace(/\.m?js$/, '');
        jsImports.push({ file: l.file, s, mapped, name });
      } else if (DIRS.has(s.name)) {
        const v = absPath(s, 0);
        if (path.isAbsolute(v)) {
          setArg(0, s, labPath(v));
          out.dirs.push(labPath(v));
          if (s.name === 'js_path') jsPaths.push(labPath(v));
        } else if (s.name === 'js_path') jsPaths.push(v);
      } else if (LOG.has(s.name)) {
        if (first === 'off' || first === 'stderr' || /^(syslog|memory):/.test(first)) continue;
        const v = absPath(s, 0);
        if (path.isAbsolute(v)) {
          setArg(0, s, labPath(v));
          out.dirs.push(path.dirname(labPath(v)));
        }
      } else if (PATHY.test(s.name) && s.args.some((a) => a.value.startsWith('/'))) {
        refuse(
          l.file,
          s,
          `${s.name} ${s.args.map((a) => a.value).join(' ')}: the rehearsal does not know how to map this path onto the lab`,
          'Leave the directive out of a copy of the site (or the dump) for the rehearsal, or ask for it to be supported',
        );
      } else if (s.name === 'server' && s.blocks[s.blocks.length - 1] === 'upstream') {
        const addr = parseServerAddress(first);
        if (!isLoopback(addr.host))
          refuse(
            l.file,
            s,
            `upstream server ${first} is not on 10.0.0.0/24, the only addresses the lab maps onto loopback`,
            'Write its 10.0.0.N address in a copy of the site for the rehearsal',
          );
        const moved = ctx.serverMap?.[first];
        if (moved) setArg(0, s, moved);
      } else if (PASS.has(s.name)) {
        const host = passHost(first);
        if (host === undefined || (!upstreamNames.has(host) && !isLoopback(host)))
          refuse(
            l.file,
            s,
            `${s.name} ${first}: ${host === undefined ? 'a target the lab cannot check' : `${host} is neither an upstream of the site nor on 10.0.0.0/24`}`,
            'The lab sends traffic only to loopback: write a 10.0.0.N address or an upstream in a copy of the site',
          );
        const hostPort = /^[a-z]+:\/\/([^/]+)/i.exec(first)?.[1];
        const moved = hostPort && ctx.serverMap?.[hostPort];
        if (moved) setArg(0, s, first.replace(hostPort, moved));
      } else if (
        s.name === 'resolver' &&
        s.args.some((a) => /^\d+\.\d+\.\d+\.\d+/.test(a.value) && !isLoopback(a.value.split(':')[0]))
      )
        refuse(
          l.file,
          s,
          `resolver ${first} is not on loopback`,
          'Write a 10.0.0.N resolver, or leave it out of a copy',
        );
    }
    const text = applyEdits(l.text, edits);
    if (l.file === src.site) out.site = text;
    else if (src.httpConfs.includes(l.file.path)) out.confD[path.basename(l.file.path)] = text;
    else out.files[labPath(l.file.path)] = text;
  }

  // njs modules: from the source when it holds them (heredocs), else a stub that answers 502 (a dump holds no .js).
  for (const imp of jsImports) {
    const candidates = path.isAbsolute(imp.mapped)
      ? [imp.mapped]
      : (jsPaths.length ? jsPaths : [path.join(ctx.root, 'etc/nginx')]).map((d) => path.join(d, imp.mapped));
    const given = src.files.find((f) => candidates.includes(labPath(f.path)));
    const at = given ? labPath(given.path) : candidates[0];
    if (given) out.files[at] = mapAddresses(given.text, ctx.addressMap);
    else if (!out.files[at]) {
      out.files[at] = njsStub(imp.name, loaded);
      out.notes.push(`${path.basename(at)} is not in the source: a stub module answers its handlers with 502`);
    }
  }
  out.dirs = [...new Set(out.dirs)];
  return out;
}

function njsStub(name: string, loaded: Loaded[]): string {
  const fns = new Map<string, string>();
  for (const l of loaded)
    for (const s of l.statements)
      if (NJS_HANDLERS.has(s.name))
        for (const a of s.args) {
          const m = new RegExp(`^${name}\\.([A-Za-z_][A-Za-z0-9_]*)$`).exec(a.value);
          if (m) fns.set(m[1], s.name);
        }
  const body = [...fns]
    .map(([fn, directive]) =>
      directive === 'js_content'
        ? `function ${fn}(r) { r.return(502, 'phoenix-migrate lab: njs stub for ${name}.${fn}\\n'); }`
        : `function ${fn}(r, data, flags) { return ''; }`,
    )
    .join('\n');
  return `// phoenix-migrate lab: stand-in for the gateway's ${name} module (not in the rehearsal's source)\n${body}\nexport default { ${[...fns.keys()].join(', ')} };\n`;
}

function quoteIfNeeded(v: string): string {
  return /[\s;{}#'"]/.test(v) ? `"${v.replace(/["\\]/g, '\\$&')}"` : v;
}
