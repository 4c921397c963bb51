# Sourced by compare.sh and callgrind.sh: the one nginx reverse-proxy config both measure, so the two figures
# are of the same nginx. Loopback only.
#
# write_nginx_proxy_conf DIR PORT ORIGIN_PORT WORKERS CONNECTIONS [MAIN_LINES]
#   writes DIR/nginx.conf: WORKERS worker processes, keep-alive to the client and to the origin (an upstream
#   pool of 1024 idle connections, HTTP/1.1, Connection cleared), no access log; MAIN_LINES are added to the
#   main context (callgrind.sh: `master_process off; daemon off;`).
write_nginx_proxy_conf() {
    local dir=$1 port=$2 origin_port=$3 workers=$4 connections=$5 main_lines=${6:-}
    mkdir -p "$dir/logs"
    cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
$main_lines
pid $dir/nginx.pid;
error_log $dir/logs/error.log error;
events { worker_connections $connections; }
http {
    access_log off;
    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
    upstream origin { server 127.0.0.1:$origin_port; keepalive 1024; }
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 1000000;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
}
