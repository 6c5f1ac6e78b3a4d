#!/bin/bash
#
# File: phoenix_hypervisor_lxc_101.sh
# Builds the API gateway in LXC 101: nginx with the njs module, the vllm_gateway site and its njs script.
set -euo pipefail

apt-get update
apt-get install -y nginx libnginx-mod-http-js

mkdir -p /etc/nginx/scripts /etc/nginx/ssl

# The njs request handler used by the chat route.
cat > /etc/nginx/scripts/http.js <<'EOF'
function chat_completions(r) {
    r.headersOut['X-Gateway'] = 'Nginx-Phoenix';
    r.internalRedirect('@qwen_chat');
}
export default { chat_completions };
EOF

cat > /etc/nginx/conf.d/njs.conf <<'EOF'
js_path "/etc/nginx/scripts/";
js_import http from http.js;
EOF

if [ ! -f /etc/nginx/ssl/portainer.phoenix.local.crt ]; then
    openssl req -x509 -nodes -newkey rsa:2048 -days 365 -subj "/CN=portainer.phoenix.local" \
        -keyout /etc/nginx/ssl/portainer.phoenix.local.key -out /etc/nginx/ssl/portainer.phoenix.local.crt
fi

# The site LXC 101 serves (differs from the committed etc/nginx/sites-available/vllm_gateway).
cat > /etc/nginx/sites-available/vllm_gateway <<'EOF'
upstream embedding_service { server 10.0.0.141:8000; }
upstream qwen_service { server 10.0.0.150:8000; }
upstream qdrant_service {
    # legacy Qdrant on CT 952
    server 10.0.0.152:6333;
}
upstream n8n_service { server 10.0.0.154:5678; }
upstream open_webui_service { server 10.0.0.120:8080; }
upstream ollama_service { server 10.0.0.155:11434; }
upstream llamacpp_service { server 10.0.0.157:8081; }
upstream portainer_service { server 10.0.0.101:9443; }

server {
    listen 80 default_server;
    server_name _;

    location /v1/chat/completions { js_content http.chat_completions; }
    location @qwen_chat { proxy_pass http://qwen_service; proxy_read_timeout 300s; }
    location /v1/completions { proxy_pass http://qwen_service; proxy_read_timeout 300s; }
    location /v1/embeddings { proxy_pass http://embedding_service; }
    location /qdrant/ {
        proxy_pass http://qdrant_service/;
    }
    location /n8n/ { rewrite ^/n8n/(.*)$ /$1 break; proxy_pass http://n8n_service; }
    location /webui/ { rewrite ^/webui/(.*)$ /$1 break; proxy_pass http://open_webui_service; }
    location /ollama/ { proxy_pass http://ollama_service/; }
    location /llamacpp/ { proxy_pass http://llamacpp_service/; }
}

server {
    listen 443 ssl;
    server_name portainer.phoenix.local;
    ssl_certificate /etc/nginx/ssl/portainer.phoenix.local.crt;
    ssl_certificate_key /etc/nginx/ssl/portainer.phoenix.local.key;
    location / {
        proxy_pass https://portainer_service;
        proxy_ssl_verify off;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
}
EOF
ln -sf /etc/nginx/sites-available/vllm_gateway /etc/nginx/sites-enabled/vllm_gateway
rm -f /etc/nginx/sites-enabled/default
nginx -t
systemctl reload nginx
