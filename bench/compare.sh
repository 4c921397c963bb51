#!/usr/bin/env bash
# Side-by-side performance on one machine, in one run, alternating A/B rounds:
#   1. reverse proxies in front of the same origin (our gateway, nginx, HAProxy), wrk load, keep-alive on:
#      req/s and p99;
#   2. load generators against the same origin (ours vs wrk, and oha when installed): req/s;
#   3. RSS of our gateway vs nginx holding 10,000 idle client keep-alive connections, once all are open and
#      again after a few seconds of idleness.
# Prints ratios next to the targets of the performance issue; asserts nothing. Loopback only.
# Everything runs on the same machine: the load generator, the proxy under test and the origin share the CPUs, so
# on a small machine (2 cores) every number is "under CPU contention", for our tools and the reference ones alike.
# Stops everything it started, on success, failure or interrupt.
#
# usage: [PROXY_WORKERS=2] [IDLE_CLIENTS=10000] [IDLE_SETTLE=3] bench/compare.sh [ROUNDS] [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-5}
CONNECTIONS=${3:-64}
IDLE_CLIENTS=${IDLE_CLIENTS:-10000}
# Every proxy gets the same number of workers: nginx worker_processes, HAProxy nbthread, our gateway's
# worker_threads (a single-threaded runtime each; the accept loop and the probes run on one more runtime thread).
PROXY_WORKERS=${PROXY_WORKERS:-2}

for tool in wrk nginx haproxy python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "missing $tool: apt-get install wrk nginx haproxy" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# BIN=path/to/badgateway measures that binary instead of building the workspace's.
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p harness
    BIN=${CARGO_TARGET_DIR:-target}/release/badgateway
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 30); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
CPUS=$(nproc)
echo "machine: $CPUS CPUs; load generator, proxy and origin all share them (no pinning): every figure below is"
echo "measured under CPU contention between client and server, the reference tools' figures included."

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

WRK_THREADS=${WRK_THREADS:-2}
ORIGIN_PORT=$(free_port); GATEWAY_PORT=$(free_port); NGINX_PORT=$(free_port); HAPROXY_PORT=$(free_port)

cat >"$WORK/origin.toml" <<CONF
listen = "127.0.0.1:$ORIGIN_PORT"
[origin]
body_bytes = 256
CONF
cat >"$WORK/gateway.toml" <<CONF
listen = "127.0.0.1:$GATEWAY_PORT"
backends = ["127.0.0.1:$ORIGIN_PORT"]
[front]
max_idle_per_backend = 1024
worker_threads = $PROXY_WORKERS
CONF
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes $PROXY_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log error;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 1024; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        keepalive_requests 1000000;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
# HAProxy refuses to start when maxconn needs more descriptors than the limit allows (about 2 per connection).
HAPROXY_MAXCONN=$(( $(ulimit -n) / 2 - 64 ))
[ "$HAPROXY_MAXCONN" -gt 20000 ] && HAPROXY_MAXCONN=20000
cat >"$WORK/haproxy.cfg" <<CONF
global
    maxconn $HAPROXY_MAXCONN
    nbthread $PROXY_WORKERS
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    http-reuse always
frontend front
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend origin
backend origin
    server origin 127.0.0.1:$ORIGIN_PORT maxconn 1024
CONF

"$BIN" serve origin --config "$WORK/origin.toml" >/dev/null & PIDS+=($!)
"$BIN" --worker-threads 1 serve gateway --config "$WORK/gateway.toml" >/dev/null & GATEWAY_PID=$!; PIDS+=($GATEWAY_PID)
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & NGINX_PID=$!; PIDS+=($NGINX_PID)
haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 & PIDS+=($!)
for port in $ORIGIN_PORT $GATEWAY_PORT $NGINX_PORT $HAPROXY_PORT; do wait_port "$port"; done

# wrk prints "Requests/sec: N" and, with --latency, a "99%" line.
wrk_run() { wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$1/" 2>/dev/null; }
rps_of() { awk '/Requests\/sec/ {print $2}'; }
p99_ms_of() { awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 }; print v }'; }

declare -A RPS P99
for name in gateway nginx haproxy; do RPS[$name]=0; P99[$name]=0; done
echo "== 1. reverse proxies, wrk -c $CONNECTIONS, ${SECONDS_PER_RUN}s x $ROUNDS rounds, alternating"
for round in $(seq 1 "$ROUNDS"); do
    # The order rotates every round so no contender always runs first (warm caches) or last.
    pairs=(gateway:$GATEWAY_PORT nginx:$NGINX_PORT haproxy:$HAPROXY_PORT)
    shift_by=$(( (round - 1) % 3 ))
    for pair in "${pairs[@]:$shift_by}" "${pairs[@]:0:$shift_by}"; do
        name=${pair%%:*}; port=${pair##*:}
        out=$(wrk_run "$port")
        rps=$(echo "$out" | rps_of); p99=$(echo "$out" | p99_ms_of)
        printf '  round %d %-8s %10.0f req/s  p99 %7.2f ms\n' "$round" "$name" "$rps" "$p99"
        RPS[$name]=$(python3 -c "print(${RPS[$name]} + $rps)")
        P99[$name]=$(python3 -c "print(${P99[$name]} + $p99)")
    done
done
ratio() { python3 -c "a=$1; b=$2; print(f'{a/b:.2f}' if b else 'n/a')"; }
for name in gateway nginx haproxy; do
    printf '  mean %-8s %10.0f req/s  p99 %7.2f ms\n' "$name" "$(python3 -c "print(${RPS[$name]} / $ROUNDS)")" "$(python3 -c "print(${P99[$name]} / $ROUNDS)")"
done
echo "  gateway/nginx   req/s ratio $(ratio "${RPS[gateway]}" "${RPS[nginx]}")   (target >= 1.00)"
echo "  gateway/nginx   p99 ratio   $(ratio "${P99[gateway]}" "${P99[nginx]}")   (target <= 1.00)"
echo "  gateway/haproxy req/s ratio $(ratio "${RPS[gateway]}" "${RPS[haproxy]}")"
echo "  gateway/haproxy p99 ratio   $(ratio "${P99[gateway]}" "${P99[haproxy]}")"

echo "== 2. load generators against the origin, $CONNECTIONS connections"
OURS=0; WRK=0; OHA=0
HAVE_OHA=0; command -v oha >/dev/null && HAVE_OHA=1
oha_run() {
    oha -z "${SECONDS_PER_RUN}s" -c "$CONNECTIONS" --no-tui --output-format json "http://127.0.0.1:$1/" 2>/dev/null \
        | python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['requestsPerSec'])"
}
for round in $(seq 1 "$ROUNDS"); do
    # The same client thread count as wrk's -t.
    "$BIN" load --target "http://127.0.0.1:$ORIGIN_PORT/" --pattern closed --clients "$CONNECTIONS" \
        --threads "$WRK_THREADS" --duration "${SECONDS_PER_RUN}s" --quiet --json "$WORK/load.json" >/dev/null
    ours=$(python3 -c "import json; print(json.load(open('$WORK/load.json'))['throughput_rps'])")
    theirs=$(wrk_run "$ORIGIN_PORT" | rps_of)
    oha_rps=0
    if [ "$HAVE_OHA" = 1 ]; then oha_rps=$(oha_run "$ORIGIN_PORT" || echo 0); fi
    printf '  round %d badgateway %10.0f req/s   wrk %10.0f req/s   oha %10.0f req/s\n' "$round" "$ours" "$theirs" "$oha_rps"
    OURS=$(python3 -c "print($OURS + $ours)"); WRK=$(python3 -c "print($WRK + $theirs)"); OHA=$(python3 -c "print($OHA + $oha_rps)")
done
echo "  badgateway/wrk  req/s ratio $(ratio "$OURS" "$WRK")   (target >= 1.00; both with $WRK_THREADS client threads)"
if [ "$HAVE_OHA" = 1 ]; then
    echo "  badgateway/oha  req/s ratio $(ratio "$OURS" "$OHA")"
else
    echo "  oha: not installed (cargo install oha), skipped"
fi

echo "== 3. RSS with $IDLE_CLIENTS idle client keep-alive connections"
# Measured when every connection is open and idle ("ready"), and again IDLE_SETTLE seconds later: an idle
# connection of our gateway gives its HTTP buffers back after `client_park_after` (250 ms by default), and the
# allocator returns the freed pages to the system shortly after.
IDLE_SETTLE=${IDLE_SETTLE:-3}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
nginx_rss() { local total=0; for pid in $(pgrep -P "$NGINX_PID") "$NGINX_PID"; do total=$((total + $(rss_kib "$pid"))); done; echo $total; }
target_rss() { if [ "$1" = gateway ]; then rss_kib "$GATEWAY_PID"; else nginx_rss; fi; }
for target in gateway nginx; do
    if [ "$target" = gateway ]; then port=$GATEWAY_PORT; else port=$NGINX_PORT; fi
    before=$(target_rss "$target")
    python3 bench/idle_clients.py 127.0.0.1 "$port" "$IDLE_CLIENTS" $((IDLE_SETTLE + 2)) >"$WORK/idle.out" & IDLE=$!; PIDS+=($IDLE)
    for _ in $(seq 1 600); do grep -q ready "$WORK/idle.out" 2>/dev/null && break; sleep 0.1; done
    at_ready=$(target_rss "$target")
    sleep "$IDLE_SETTLE"
    settled=$(target_rss "$target")
    held=$(awk '/ready/ {print $2}' "$WORK/idle.out"); held=${held:-0}
    wait "$IDLE" || true
    per_ready=$(python3 -c "print(f'{($at_ready - $before) / max($held, 1):.2f}')")
    per=$(python3 -c "print(f'{($settled - $before) / max($held, 1):.2f}')")
    echo "  $target: $held idle connections, RSS $before -> $at_ready KiB when all are open ($per_ready KiB each),"
    echo "      $settled KiB after ${IDLE_SETTLE}s idle: $per KiB per connection   (target <= 10 KiB)"
done
