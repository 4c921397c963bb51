#!/usr/bin/env bash
# Side-by-side performance on one machine, in one run, alternating A/B rounds:
#   1. reverse proxies in front of the same origin (our gateway, nginx, HAProxy), wrk load, keep-alive on:
#      req/s, p99 and CPU time per request (user + system of the proxy's processes over the measured interval,
#      from /proc/PID/stat, divided by the requests wrk counted);
#   2. load generators against the same origin (ours vs wrk, and oha when installed): req/s and the generator's
#      own CPU time per request (user + system of the finished process, from the shell's `times`);
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
# shellcheck source=bench/nginx-proxy.sh
. bench/nginx-proxy.sh
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
write_nginx_proxy_conf "$WORK/nginx" "$NGINX_PORT" "$ORIGIN_PORT" "$PROXY_WORKERS" 20000
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
haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 & HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)
for port in $ORIGIN_PORT $GATEWAY_PORT $NGINX_PORT $HAPROXY_PORT; do wait_port "$port"; done

# wrk prints "Requests/sec: N" and, with --latency, a "99%" line.
wrk_run() { wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$1/" 2>/dev/null; }
rps_of() { awk '/Requests\/sec/ {print $2}'; }
p99_ms_of() { awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 }; print v }'; }

# CPU time: user + system clock ticks of a process and all its threads (fields 14 and 15 of /proc/PID/stat;
# the command name in field 2 may hold spaces, so the fields are counted after its closing parenthesis).
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { local total=0 pid; for pid in "$@"; do total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'))); done; echo $total; }
proxy_pids() {
    case $1 in
        gateway) echo "$GATEWAY_PID" ;;
        nginx) echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" ;;
        haproxy) echo "$HAPROXY_PID" ;;
    esac
}
requests_of() { awk '/requests in/ {print $1}'; }
# `( COMMAND; times )`: the subshell's last line is its children's user and system time ("0m1.230s 0m0.450s").
children_cpu_s() { tail -n 1 | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s/, "", a[2]); t += a[1] * 60 + a[2] }; print t }'; }
us_per() { python3 -c "r=$2; print(f'{$1 * 1e6 / r:.2f}' if r else 'n/a')"; }

declare -A RPS P99 CPU_S REQS
for name in gateway nginx haproxy; do RPS[$name]=0; P99[$name]=0; CPU_S[$name]=0; REQS[$name]=0; done
echo "== 1. reverse proxies, wrk -c $CONNECTIONS, ${SECONDS_PER_RUN}s x $ROUNDS rounds, alternating"
for round in $(seq 1 "$ROUNDS"); do
    # The order rotates every round so no contender always runs first (warm caches) or last.
    pairs=(gateway:$GATEWAY_PORT nginx:$NGINX_PORT haproxy:$HAPROXY_PORT)
    shift_by=$(( (round - 1) % 3 ))
    for pair in "${pairs[@]:$shift_by}" "${pairs[@]:0:$shift_by}"; do
        name=${pair%%:*}; port=${pair##*:}
        pids=$(proxy_pids "$name")
        # shellcheck disable=SC2086 # a list of pids
        ticks_before=$(cpu_ticks $pids)
        out=$(wrk_run "$port")
        # shellcheck disable=SC2086
        ticks_after=$(cpu_ticks $pids)
        rps=$(echo "$out" | rps_of); p99=$(echo "$out" | p99_ms_of); requests=$(echo "$out" | requests_of)
        cpu_s=$(python3 -c "print(($ticks_after - $ticks_before) / $CLK_TCK)")
        printf '  round %d %-8s %10.0f req/s  p99 %7.2f ms  CPU %6s µs/request\n' "$round" "$name" "$rps" "$p99" "$(us_per "$cpu_s" "$requests")"
        RPS[$name]=$(python3 -c "print(${RPS[$name]} + $rps)")
        P99[$name]=$(python3 -c "print(${P99[$name]} + $p99)")
        CPU_S[$name]=$(python3 -c "print(${CPU_S[$name]} + $cpu_s)")
        REQS[$name]=$((${REQS[$name]} + requests))
    done
done
ratio() { python3 -c "a=$1; b=$2; print(f'{a/b:.2f}' if b else 'n/a')"; }
for name in gateway nginx haproxy; do
    printf '  mean %-8s %10.0f req/s  p99 %7.2f ms  CPU %6s µs/request\n' "$name" "$(python3 -c "print(${RPS[$name]} / $ROUNDS)")" "$(python3 -c "print(${P99[$name]} / $ROUNDS)")" "$(us_per "${CPU_S[$name]}" "${REQS[$name]}")"
done
cpu_ratio() { python3 -c "a=${CPU_S[$1]} / max(${REQS[$1]}, 1); b=${CPU_S[$2]} / max(${REQS[$2]}, 1); print(f'{a/b:.2f}' if b else 'n/a')"; }
echo "  gateway/nginx   req/s ratio $(ratio "${RPS[gateway]}" "${RPS[nginx]}")   (target >= 1.00)"
echo "  gateway/nginx   p99 ratio   $(ratio "${P99[gateway]}" "${P99[nginx]}")   (target <= 1.00)"
echo "  gateway/nginx   CPU per request ratio $(cpu_ratio gateway nginx)   (target <= 1.00)"
echo "  gateway/haproxy CPU per request ratio $(cpu_ratio gateway haproxy)"
echo "  gateway/haproxy req/s ratio $(ratio "${RPS[gateway]}" "${RPS[haproxy]}")"
echo "  gateway/haproxy p99 ratio   $(ratio "${P99[gateway]}" "${P99[haproxy]}")"

echo "== 2. load generators against the origin, $CONNECTIONS connections"
OURS=0; WRK=0; OHA=0; OURS_CPU=0; OURS_REQS=0; WRK_CPU=0; WRK_REQS=0
HAVE_OHA=0; command -v oha >/dev/null && HAVE_OHA=1
oha_run() {
    oha -z "${SECONDS_PER_RUN}s" -c "$CONNECTIONS" --no-tui --output-format json "http://127.0.0.1:$1/" 2>/dev/null \
        | python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['requestsPerSec'])"
}
for round in $(seq 1 "$ROUNDS"); do
    # The same client thread count as wrk's -t.
    ours_cpu=$( ( "$BIN" load --target "http://127.0.0.1:$ORIGIN_PORT/" --pattern closed --clients "$CONNECTIONS" \
        --threads "$WRK_THREADS" --duration "${SECONDS_PER_RUN}s" --quiet --json "$WORK/load.json" >/dev/null; times ) | children_cpu_s)
    ours=$(python3 -c "import json; print(json.load(open('$WORK/load.json'))['throughput_rps'])")
    ours_reqs=$(python3 -c "import json; print(json.load(open('$WORK/load.json'))['requests'])")
    out=$( (wrk_run "$ORIGIN_PORT"; times) )
    theirs=$(echo "$out" | rps_of); theirs_reqs=$(echo "$out" | requests_of); theirs_cpu=$(echo "$out" | children_cpu_s)
    oha_rps=0
    if [ "$HAVE_OHA" = 1 ]; then oha_rps=$(oha_run "$ORIGIN_PORT" || echo 0); fi
    printf '  round %d badgateway %10.0f req/s (CPU %s µs/request)   wrk %10.0f req/s (CPU %s µs/request)   oha %10.0f req/s\n' \
        "$round" "$ours" "$(us_per "$ours_cpu" "$ours_reqs")" "$theirs" "$(us_per "$theirs_cpu" "$theirs_reqs")" "$oha_rps"
    OURS_CPU=$(python3 -c "print($OURS_CPU + $ours_cpu)"); OURS_REQS=$((OURS_REQS + ours_reqs))
    WRK_CPU=$(python3 -c "print($WRK_CPU + $theirs_cpu)"); WRK_REQS=$((WRK_REQS + theirs_reqs))
    OURS=$(python3 -c "print($OURS + $ours)"); WRK=$(python3 -c "print($WRK + $theirs)"); OHA=$(python3 -c "print($OHA + $oha_rps)")
done
echo "  badgateway/wrk  req/s ratio $(ratio "$OURS" "$WRK")   (target >= 1.10; both with $WRK_THREADS client threads)"
echo "  badgateway/wrk  CPU per request: $(us_per "$OURS_CPU" "$OURS_REQS") vs $(us_per "$WRK_CPU" "$WRK_REQS") µs, ratio $(python3 -c "a=$OURS_CPU/max($OURS_REQS,1); b=$WRK_CPU/max($WRK_REQS,1); print(f'{a/b:.2f}' if b else 'n/a')")"
if [ "$HAVE_OHA" = 1 ]; then
    echo "  badgateway/oha  req/s ratio $(ratio "$OURS" "$OHA")"
else
    echo "  oha: not installed (cargo install oha), skipped"
fi

echo "== 3. RSS with $IDLE_CLIENTS idle client keep-alive connections"
# Measured when every connection is open and idle ("ready"), and again IDLE_SETTLE seconds later: an idle
# connection of our gateway gives its HTTP buffers back after `client_park_after` (250 ms by default), so does
# each pooled upstream connection the burst opened (`upstream_park_after`), and each worker thread gives the
# freed pages back to the system 200 ms after connections parked on it (mimalloc's mi_collect).
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
    echo "      $settled KiB after ${IDLE_SETTLE}s idle: $per KiB per connection   (target <= 2 KiB)"
done
