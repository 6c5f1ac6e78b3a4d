/**
 * A REAL nginx (Debian's, with the njs module) under an unprivileged prefix, shaped like the Phoenix gateway
 * (LXC 101): a site file in sites-available with a symlink in sites-enabled, a conf.d that js_imports the scripts
 * (`health.js`, and `scripts/http.js` as the real gateway has it).
 * The plan's `nginxCommand` is a small wrapper that runs nginx on this prefix and records `-t` and reloads in the
 * lab's event log, so side effects on the gateway are counted like every other one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GATEWAY_HTTP_JS } from './gateway-site';
import { waitForTcp } from './ports';

export const NGINX_BINARY = '/usr/sbin/nginx';
export const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

export interface GatewayNginxOptions {
  prefix: string;
  listenHost: string;
  port: number;
  siteName: string;
  /** The site file's content on first start (kept as it is on later starts: the lab resumes). */
  siteText: string;
  /** Mode of the real site file on first start (kept across cutovers); default 0644. */
  siteMode?: number;
  /** JSONL file the wrapper appends `nginx-test` / `gateway-reload` events to. */
  eventLogPath?: string;
  /**
   * Lab fault: this many `-s reload` calls exit 0 but never reach nginx, so it keeps serving its old configuration
   * (what a master that rejects the new config looks like from outside). Counted down in `<prefix>/run/reload-noop`.
   */
  reloadNoop?: number;
  /** See GatewayLayoutOptions.confD. */
  confD?: Record<string, string>;
}

export interface GatewayNginx {
  url: string;
  siteFile: string;
  realSiteFile: string;
  nginxCommand: string[];
  backupDir: string;
  lockFile: string;
  pidFile: string;
  errorLog: string;
  stop(): Promise<void>;
}

function wrapperScript(
  prefix: string,
  conf: string,
  errorLog: string,
  realSiteFile: string,
  eventLog?: string,
): string {
  const noopFile = path.join(prefix, 'run', 'reload-noop');
  const noopEvent = eventLog
    ? `\n    printf '{"time":"%s","kind":"gateway-reload-noop","exit":0}\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" >> '${eventLog}'`
    : '';
  const noop = `
case " $* " in
  *" -s reload "*)
    left=$(cat '${noopFile}' 2>/dev/null || echo 0)
    if [ "$left" -gt 0 ] 2>/dev/null; then
    echo $((left - 1)) > '${noopFile}'${noopEvent}
    exit 0
    fi ;;
esac`;
  const log = eventLog
    ? `
case " $* " in
  *" -s reload "*) kind=gateway-reload ;;
  *" -t "*) kind=nginx-test ;;
  *) kind= ;;
esac
if [ -n "$kind" ]; then
  sha=$(sha256sum '${realSiteFile}' | cut -c1-16)
  printf '{"time":"%s","kind":"%s","exit":%s,"siteSha":"%s"}\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$kind" "$rc" "$sha" >> '${eventLog}'
fi`
    : '';
  return `#!/bin/sh
# phoenix-migrate lab: nginx on the lab gateway's prefix${eventLog ? ', with -t and reloads recorded in the event log' : ''}.
# Lab fault: while ${noopFile} holds a number > 0, a reload is swallowed (exit 0, nginx never told).${noop}
${NGINX_BINARY} -p '${prefix}' -c '${conf}' -e '${errorLog}' "$@"
rc=$?${log}
exit $rc
`;
}

export interface GatewayLayoutOptions {
  prefix: string;
  siteName: string;
  /** The site file's content on first start (kept as it is on later starts: the lab resumes). */
  siteText: string;
  siteMode?: number;
  /**
   * The http-level configs (`conf.d/NAME` → text) instead of the lab's own njs config (health.js, scripts/http.js):
   * a rehearsal brings the gateway CT's.
   */
  confD?: Record<string, string>;
}

export interface GatewayLayout {
  conf: string;
  errorLog: string;
  realSiteFile: string;
  siteFile: string;
  /** The nginx binary (run it with `-p prefix -c conf -e errorLog`). */
  nginx: string;
}

/** Writes the gateway's prefix: nginx.conf, conf.d, the njs scripts, the site (first time only) and its symlink. */
export function layoutGatewayPrefix(opts: GatewayLayoutOptions): GatewayLayout {
  const { prefix } = opts;
  for (const d of ['conf', 'conf.d', 'js', 'sites-available', 'sites-enabled', 'logs', 'tmp', 'backups', 'run', 'bin'])
    fs.mkdirSync(path.join(prefix, d), { recursive: true });
  const conf = path.join(prefix, 'conf', 'nginx.conf');
  const tmp = path.join(prefix, 'tmp');
  const errorLog = path.join(prefix, 'logs', 'error.log');
  fs.writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root root;\n' : ''}worker_processes 1;
worker_shutdown_timeout 5s;
pid ${prefix}/run/nginx.pid;
error_log ${errorLog} warn;
load_module ${NJS_MODULE};
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${tmp}/body;
    proxy_temp_path ${tmp}/proxy;
    fastcgi_temp_path ${tmp}/fastcgi;
    uwsgi_temp_path ${tmp}/uwsgi;
    scgi_temp_path ${tmp}/scgi;
    include ${prefix}/conf.d/*.conf;
    include ${prefix}/sites-enabled/*;
}
`,
  );
  if (opts.confD) {
    for (const [name, text] of Object.entries(opts.confD)) fs.writeFileSync(path.join(prefix, 'conf.d', name), text);
  } else {
    fs.writeFileSync(
      path.join(prefix, 'js', 'health.js'),
      'function health(r) { r.return(200, "gateway ok\\n"); }\nexport default { health };\n',
    );
    // The real gateway's chat handler lives in /etc/nginx/scripts/http.js; its site file calls it as http.*.
    fs.mkdirSync(path.join(prefix, 'scripts'), { recursive: true });
    fs.writeFileSync(path.join(prefix, 'scripts', 'http.js'), GATEWAY_HTTP_JS);
    fs.writeFileSync(
      path.join(prefix, 'conf.d', 'njs.conf'),
      `js_path ${prefix}/js/;\njs_import health.js;\njs_import http from ${prefix}/scripts/http.js;\n`,
    );
  }
  const realSiteFile = path.join(prefix, 'sites-available', opts.siteName);
  const siteFile = path.join(prefix, 'sites-enabled', opts.siteName);
  if (!fs.existsSync(realSiteFile)) {
    fs.writeFileSync(realSiteFile, opts.siteText);
    fs.chmodSync(realSiteFile, opts.siteMode ?? 0o644);
  }
  if (!fs.existsSync(siteFile)) fs.symlinkSync(realSiteFile, siteFile);
  return { conf, errorLog, realSiteFile, siteFile, nginx: NGINX_BINARY };
}

export async function startGatewayNginx(opts: GatewayNginxOptions): Promise<GatewayNginx> {
  const { prefix } = opts;
  const { conf, errorLog, realSiteFile, siteFile } = layoutGatewayPrefix(opts);
  if (opts.reloadNoop !== undefined) fs.writeFileSync(path.join(prefix, 'run', 'reload-noop'), `${opts.reloadNoop}\n`);
  const wrapper = path.join(prefix, 'bin', 'nginx');
  fs.writeFileSync(wrapper, wrapperScript(prefix, conf, errorLog, realSiteFile, opts.eventLogPath), { mode: 0o755 });

  const child: ChildProcess = spawn(NGINX_BINARY, ['-p', prefix, '-c', conf, '-e', errorLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForTcp(opts.listenHost, opts.port, {
    alive: () => (child.exitCode !== null ? `nginx exited with ${child.exitCode}: ${stderr}` : undefined),
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    url: `http://${opts.listenHost}:${opts.port}`,
    siteFile,
    realSiteFile,
    nginxCommand: [wrapper],
    backupDir: path.join(prefix, 'backups'),
    lockFile: path.join(prefix, 'run', 'gateway.lock'),
    pidFile: path.join(prefix, 'run', 'nginx.pid'),
    errorLog,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** A minimal gateway site (tests): the Qdrant route plus one location per other upstream. The lab uses phoenixGatewaySite. */
export function gatewaySiteText(
  listen: string,
  upstreams: { qdrant: string; others: { name: string; server: string }[] },
): string {
  const others = upstreams.others.map((u) => `upstream ${u.name} { server ${u.server}; }`).join('\n');
  return `# Nginx-Phoenix gateway (LXC 101) — phoenix-migrate lab copy
${others}
upstream qdrant_service { server ${upstreams.qdrant}; }

server {
    listen ${listen};
    server_name _;

    location = /healthz { js_content health.health; }

    # Qdrant: the trailing slash strips /qdrant/ so /qdrant/readyz reaches Qdrant's /readyz.
    location /qdrant/ {
        proxy_pass http://qdrant_service/;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;
    }
${upstreams.others
  .map(
    (u) => `
    location /${u.name.replace(/_service$/, '')}/ { proxy_pass http://${u.name}/; }`,
  )
  .join('')}
}
`;
}
