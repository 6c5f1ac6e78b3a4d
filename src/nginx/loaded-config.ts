/**
 * Everything nginx loads, as `nginx -T` prints it (each file after a `# configuration file PATH:` line), read for
 * who routes where: every server of every upstream in every file, and every literal address in a `*_pass`
 * directive (`proxy_pass http://10.0.0.150:8000/…` bypasses the upstreams). Pure.
 */
import { readUpstreams } from './upstream';

export interface LoadedFile {
  path: string;
  text: string;
}

export interface RoutedUpstream {
  name: string;
  file: string;
  line: number;
  servers: { host: string; port: number | null; address: string }[];
}

export interface LiteralRoute {
  file: string;
  line: number;
  directive: string;
  /** The directive's argument as written, e.g. `http://10.0.0.150:8000/v1/`. */
  target: string;
  host: string;
}

export interface GatewayRoutes {
  files: string[];
  upstreams: RoutedUpstream[];
  literals: LiteralRoute[];
}

const HEADER = /^# configuration file (.+):$/;
const PASS = /(?:^|[\s;{}])(proxy_pass|grpc_pass|uwsgi_pass|fastcgi_pass|scgi_pass|memcached_pass)\s+([^;\s]+)\s*;/g;

/** Splits `nginx -T` output into the files it shows (text before the first header — `nginx -t`'s lines — is dropped). */
export function splitNginxDump(output: string): LoadedFile[] {
  const files: LoadedFile[] = [];
  let current: { path: string; lines: string[] } | undefined;
  for (const line of output.split('\n')) {
    const m = HEADER.exec(line);
    if (m) {
      if (current) files.push({ path: current.path, text: current.lines.join('\n') });
      current = { path: m[1], lines: [] };
    } else if (current) current.lines.push(line);
  }
  if (current) files.push({ path: current.path, text: current.lines.join('\n') });
  return files;
}

/** `#` comments out the rest of a line unless quoted (close enough for finding directives). */
function withoutComments(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let quote: string | undefined;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quote) {
          if (c === '\\') i++;
          else if (c === quote) quote = undefined;
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '#') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

/** The host of a `*_pass` argument, or undefined for a variable or a unix socket. */
export function passHost(target: string): string | undefined {
  const t = target.replace(/^["']|["']$/g, '');
  if (t.includes('$') || t.startsWith('unix:')) return undefined;
  const rest = t.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const bracketed = /^\[([^\]]+)\]/.exec(rest);
  if (bracketed) return bracketed[1];
  return /^[^:/?#]+/.exec(rest)?.[0];
}

export function routesOf(files: LoadedFile[]): GatewayRoutes {
  const upstreams: RoutedUpstream[] = [];
  const literals: LiteralRoute[] = [];
  for (const file of files) {
    for (const u of readUpstreams(file.text)) {
      upstreams.push({
        name: u.name,
        file: file.path,
        line: u.line,
        servers: u.servers.map((s) => ({ host: s.host, port: s.port, address: s.address })),
      });
    }
    const text = withoutComments(file.text);
    for (const m of text.matchAll(PASS)) {
      const host = passHost(m[2]);
      if (!host) continue;
      const line = text.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0);
      literals.push({ file: file.path, line, directive: m[1], target: m[2], host });
    }
  }
  // A `*_pass` naming an upstream is the upstream's route, already counted by its servers.
  const names = new Set(upstreams.map((u) => u.name));
  return {
    files: files.map((f) => f.path),
    upstreams,
    literals: literals.filter((l) => !names.has(l.host)),
  };
}
