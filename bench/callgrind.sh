#!/usr/bin/env bash
# Instructions per proxied request of the gateway, repeatable on a loaded machine: the gateway runs under
# callgrind (one worker thread) in front of our origin, and our closed-loop load sends N1 requests in one run and
# N2 in another; (Ir(N2) − Ir(N1)) / (N2 − N1) cancels start-up and shutdown. Loopback only; asserts nothing.
#
# usage: [BIN=target/release/badgateway] [N1=2000] [N2=12000] [CLIENTS=8] [FRONT_EXTRA='key = value'] \
#        bench/callgrind.sh [CALLGRIND_OUT_DIR]
# FRONT_EXTRA: lines added to the gateway's [front] table, to compare one setting (e.g. 'upstream_park_after = "0s"').
# PROXY=nginx: the same count for nginx (one worker, master_process off, keepalive upstream as in compare.sh),
# for a like-for-like user-space figure; the kernel's share, which callgrind does not see, is compare.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/nginx-proxy.sh
. bench/nginx-proxy.sh
command -v valgrind >/dev/null || { echo "missing valgrind: apt-get install valgrind" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p harness
    BIN=${CARGO_TARGET_DIR:-target}/release/badgateway
fi
N1=${N1:-2000}; N2=${N2:-12000}; CLIENTS=${CLIENTS:-8}
OUT=${1:-$(mktemp -d)}; mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 1200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

ORIGIN_PORT=$(free_port)
printf 'listen = "127.0.0.1:%s"\n[origin]\nbody_bytes = 256\n' "$ORIGIN_PORT" >"$WORK/origin.toml"
"$BIN" serve origin --config "$WORK/origin.toml" >/dev/null & PIDS+=($!)
wait_port "$ORIGIN_PORT"

# Starts the proxy under callgrind on port `$1` (profile `$2`); its pid in PROXY_PID.
start_proxy() {
    local port=$1 profile=$2
    if [ "${PROXY:-gateway}" = nginx ]; then
        write_nginx_proxy_conf "$WORK/nginx" "$port" "$ORIGIN_PORT" 1 1024 "master_process off;
daemon off;"
        valgrind --tool=callgrind --callgrind-out-file="$profile" \
            "$(command -v nginx || echo /usr/sbin/nginx)" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
            >/dev/null 2>"$profile.log" &
    else
        printf 'listen = "127.0.0.1:%s"\nbackends = ["127.0.0.1:%s"]\n[front]\nmax_idle_per_backend = 1024\nworker_threads = 1\n%s\n' \
            "$port" "$ORIGIN_PORT" "${FRONT_EXTRA:-}" >"$WORK/gateway.toml"
        valgrind --tool=callgrind --callgrind-out-file="$profile" \
            "$BIN" --worker-threads 1 serve gateway --config "$WORK/gateway.toml" >/dev/null 2>"$profile.log" &
    fi
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
}

# Total instructions of one proxy process that served `$1` requests.
instructions_for() {
    local port; port=$(free_port)
    start_proxy "$port" "$OUT/callgrind.$1"
    wait_port "$port"
    "$BIN" load --target "http://127.0.0.1:$port/" --pattern closed --clients "$CLIENTS" --requests "$1" --quiet >/dev/null
    kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true
    awk '/^summary:|^totals:/ {print $2; exit}' "$OUT/callgrind.$1"
}
I1=$(instructions_for "$N1")
I2=$(instructions_for "$N2")
echo "${PROXY:-gateway}: $(( (I2 - I1) / (N2 - N1) )) instructions per request ($I1 for $N1 requests, $I2 for $N2; profiles in $OUT)"
