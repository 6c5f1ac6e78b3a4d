/**
 * The gateway's site file shaped like the real one in LXC 101 (`/etc/nginx/sites-available/vllm_gateway`): one-line
 * upstream blocks, a port-80 server routing by path — an njs `js_content` handler in front of `qwen_service`, the
 * OpenAI-style routes, `/qdrant/` with the prefix-stripping slash, rewrites for the web UIs — and an HTTPS server for
 * Portainer with certificates under the gateway's `ssl/` directory (made by the lab, never committed).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface GatewaySiteOptions {
  /** `HOST:PORT` of the plain-HTTP server. */
  listen: string;
  /** `HOST:PORT` of the HTTPS server (Portainer). */
  tlsListen: string;
  /** Certificate and key files of the HTTPS server. */
  certificate: { cert: string; key: string };
  /** Every upstream as `name → HOST:PORT` (one server each, like the real file), `qdrant_service` included. */
  upstreams: { name: string; server: string }[];
}

/** Routes of the real site, by upstream name; an upstream without one is only declared (as in the real file). */
const ROUTES: Record<string, string> = {
  qwen_service: `
    # Chat goes through the njs handler (request shaping), then to vLLM on CT 950.
    location /v1/chat/completions { js_content http.chat_completions; }
    location @qwen_chat { proxy_pass http://qwen_service; proxy_read_timeout 300s; }
    location /v1/completions { proxy_pass http://qwen_service; proxy_read_timeout 300s; }`,
  embedding_service: `
    location /v1/embeddings { proxy_pass http://embedding_service; }`,
  qdrant_service: `
    # Qdrant: the trailing slash strips /qdrant/ so /qdrant/readyz reaches Qdrant's /readyz.
    location /qdrant/ {
        proxy_pass http://qdrant_service/;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;
    }`,
  n8n_service: `
    location /n8n/ { rewrite ^/n8n/(.*)$ /$1 break; proxy_pass http://n8n_service; }`,
  open_webui_service: `
    location /webui/ { rewrite ^/webui/(.*)$ /$1 break; proxy_pass http://open_webui_service; }`,
  ollama_service: `
    location /ollama/ { proxy_pass http://ollama_service/; }`,
  llamacpp_service: `
    location /llamacpp/ { proxy_pass http://llamacpp_service/; }`,
};

export function phoenixGatewaySite(o: GatewaySiteOptions): string {
  const upstreams = o.upstreams.map((u) => `upstream ${u.name} { server ${u.server}; }`).join('\n');
  const routes = o.upstreams
    .map(
      (u) =>
        ROUTES[u.name] ??
        (u.name === 'portainer_service' ? '' : `\n    location /${u.name}/ { proxy_pass http://${u.name}/; }`),
    )
    .join('');
  const portainer = o.upstreams.some((u) => u.name === 'portainer_service')
    ? `
server {
    listen ${o.tlsListen} ssl;
    server_name portainer.phoenix.local;
    ssl_certificate ${o.certificate.cert};
    ssl_certificate_key ${o.certificate.key};
    location / {
        proxy_pass https://portainer_service;
        proxy_ssl_verify off;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
}
`
    : '';
  return `# vllm_gateway — Nginx-Phoenix (LXC 101), phoenix-migrate lab copy of the real site
${upstreams}

server {
    listen ${o.listen} default_server;
    server_name _;

    location = /healthz { js_content health.health; }
${routes}
}
${portainer}`;
}

/** The njs script the chat route uses (`/etc/nginx/scripts/http.js` on the real gateway). */
export const GATEWAY_HTTP_JS = `// phoenix-migrate lab: the gateway's njs request handler (hands chat requests on to qwen_service)
function chat_completions(r) {
    r.headersOut['X-Gateway'] = 'Nginx-Phoenix';
    r.internalRedirect('@qwen_chat');
}
export default { chat_completions };
`;

/** A self-signed certificate for the HTTPS server, made once per gateway directory with the openssl CLI. */
export function ensureGatewayCertificate(sslDir: string, commonName: string): { cert: string; key: string } {
  const cert = path.join(sslDir, `${commonName}.crt`);
  const key = path.join(sslDir, `${commonName}.key`);
  if (fs.existsSync(cert) && fs.existsSync(key)) return { cert, key };
  fs.mkdirSync(sslDir, { recursive: true });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      `/CN=${commonName}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  fs.chmodSync(key, 0o600);
  return { cert, key };
}
