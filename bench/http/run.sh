#!/bin/bash
# bench/http/run.sh KUMO [SHARED] - HTTP throughput of `kumo serve` (make
# bench-http): wrk on loopback, one connection count for every scenario,
# against nginx (Debian's, one worker, `return 200 "Hello"`) as the
# ceiling, then kumo serve with the shared C and JavaScript hello
# components, fresh instance per request and warm, and - when jco runs
# here - `jco serve --isolate-requests instance` on the fetch-event
# component. Prints a table of medians (req/s, p99 latency, ratio to
# nginx); numbers are printed, never asserted.
#
# Environment: BENCH_THREADS (wrk -t, 1), BENCH_CONNS (wrk -c, 32),
# BENCH_DURATION (wrk -d, 10s), BENCH_RUNS (3), BENCH_POOL (--pool-size of
# the warm scenarios, 8), BENCH_WRK_TIMEOUT (wrk --timeout, 30s), BENCH_QUICK=1 (2 s, 1 run), JCO (the jco CLI;
# default /tmp/jk/node_modules/.bin/jco or ~/.cache/kumo-jco; BENCH_JCO=0
# skips it), BENCH_ONLY (an ERE: run the matching scenarios only).
set -u
KUMO=$1
SHARED=${2:-../shared}
COMP=$(cd "$SHARED/components" && pwd) || exit 1
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNS:-32}
DUR=${BENCH_DURATION:-10s}
RUNS=${BENCH_RUNS:-3}
POOL=${BENCH_POOL:-8}
# slow scenarios (a fresh 14 MB JS instance per request) queue 32 requests
# for longer than wrk's default 2 s timeout; count them, not time them out
WTIMEOUT=${BENCH_WRK_TIMEOUT:-30s}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    DUR=2s
    RUNS=1
fi
ONLY=${BENCH_ONLY:-.}
for tool in wrk curl python3; do
    command -v $tool >/dev/null || { echo "bench-http: $tool missing" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/kumo-bench-http.XXXXXX)
SRV=""
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# up URL SECONDS: until URL answers (any status)
up() {
    local i
    for i in $(seq $(($2 * 10))); do
        curl -s -o /dev/null -m 2 "$1" && return 0
        kill -0 "$SRV" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wrk_once URL: "REQ/S P99_MS ERRORS" of one run
wrk_once() {
    wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --timeout "$WTIMEOUT" --latency "$1" 2>&1 | awk '
        /^Requests\/sec:/ { rps = $2 }
        /^ +99%/ {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : \
                  (u == "m") ? v * 60000 : v
        }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ {
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i + 0
        }
        END { printf "%.1f %.3f %d\n", rps + 0, p99 + 0, err + 0 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }

RESULTS=$TMP/results
: >"$RESULTS"
# measure NAME URL: a 1 s warm-up, then RUNS runs; appends the medians
measure() {
    local name=$1 url=$2 r
    wrk -t"$THREADS" -c"$CONNS" -d1s "$url" >/dev/null 2>&1
    : >"$TMP/runs"
    for r in $(seq "$RUNS"); do
        wrk_once "$url" >>"$TMP/runs"
    done
    printf '%s\t%s\t%s\t%s\n' "$name" \
        "$(cut -d' ' -f1 "$TMP/runs" | median)" \
        "$(cut -d' ' -f2 "$TMP/runs" | median)" \
        "$(cut -d' ' -f3 "$TMP/runs" | median)" >>"$RESULTS"
    echo "  $name: $(tr '\n' ';' <"$TMP/runs")" >&2
}

stop_srv() {
    [ -n "$SRV" ] || return
    kill "$SRV" 2>/dev/null
    wait "$SRV" 2>/dev/null
    SRV=""
}

bench_nginx() {
    command -v nginx >/dev/null || { echo "bench-http: nginx missing, no ceiling" >&2; return; }
    local port
    port=$(free_port)
    mkdir -p "$TMP/nginx"
    cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "Hello"; }
    }
}
EOF
    nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx.conf" \
        2>"$TMP/nginx/start.err" &
    SRV=$!
    if up "http://127.0.0.1:$port/" 10; then
        measure "nginx return 200 (1 worker)" "http://127.0.0.1:$port/"
    else
        echo "bench-http: nginx did not start: $(cat "$TMP/nginx/start.err")" >&2
    fi
    stop_srv
}

# bench_kumo NAME APP ARGS...
bench_kumo() {
    local name=$1 app=$2 port i
    shift 2
    echo "$name" | grep -qE "$ONLY" || return
    "$KUMO" serve "$app" --listen 127.0.0.1:0 "$@" 2>"$TMP/kumo.err" >/dev/null &
    SRV=$!
    port=""
    for i in $(seq 600); do
        port=$(sed -n 's|.*kumo: serving .* on http://.*:\([0-9][0-9]*\).*|\1|p' "$TMP/kumo.err" | head -1)
        [ -n "$port" ] && break
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$port" ] && up "http://127.0.0.1:$port/" 5; then
        measure "$name" "http://127.0.0.1:$port/bench"
    else
        echo "bench-http: $name: kumo serve did not start: $(tail -2 "$TMP/kumo.err")" >&2
    fi
    stop_srv
}

bench_jco() {
    local jco=${JCO:-}
    [ "${BENCH_JCO:-1}" = 0 ] && return
    echo "jco serve" | grep -qE "$ONLY" || return
    if [ -z "$jco" ]; then
        for jco in /tmp/jk/node_modules/.bin/jco "$HOME/.cache/kumo-jco/node_modules/.bin/jco" ""; do
            [ -x "$jco" ] && break
        done
    fi
    if [ -z "$jco" ] || ! command -v node >/dev/null; then
        echo "bench-http: no jco (set JCO), skipping jco serve" >&2
        return
    fi
    local port
    port=$(free_port)
    node "$jco" serve "$COMP/js-hello-fetch-event.component.wasm" --port "$port" \
        --host 127.0.0.1 --isolate-requests instance >"$TMP/jco.log" 2>&1 &
    SRV=$!
    if up "http://127.0.0.1:$port/" 120; then
        measure "jco serve js-fetch-event (instance/request)" "http://127.0.0.1:$port/bench"
    else
        echo "bench-http: jco serve did not start: $(tail -2 "$TMP/jco.log")" >&2
    fi
    stop_srv
}

echo "bench-http: wrk -t$THREADS -c$CONNS -d$DUR, median of $RUNS, loopback" >&2
echo nginx | grep -qE "$ONLY" && bench_nginx
bench_kumo "kumo c-http fresh" "$COMP/c-http.component.wasm"
bench_kumo "kumo c-http fresh, instantiated (--no-snapshot)" "$COMP/c-http.component.wasm" --no-snapshot
bench_kumo "kumo c-http warm (--pool-size $POOL)" "$COMP/c-http.component.wasm" --pool-size "$POOL"
bench_kumo "kumo js-fetch-event fresh" "$COMP/js-hello-fetch-event.component.wasm"
bench_kumo "kumo js-fetch-event fresh, instantiated (--no-snapshot)" "$COMP/js-hello-fetch-event.component.wasm" --no-snapshot
bench_kumo "kumo js-direct fresh" "$COMP/js-hello-direct.component.wasm"
bench_kumo "kumo js-direct warm (--pool-size $POOL)" "$COMP/js-hello-direct.component.wasm" --pool-size "$POOL"
bench_jco

ceiling=$(awk -F'\t' '$1 ~ /^nginx/ { print $2 }' "$RESULTS")
echo
printf '%-56s %12s %10s %9s %7s\n' scenario req/s "p99 ms" "vs nginx" errors
awk -F'\t' -v c="${ceiling:-0}" '{
    ratio = (c > 0) ? sprintf("%.1f%%", 100 * $2 / c) : "-"
    printf "%-56s %12.1f %10.3f %9s %7d\n", $1, $2, $3, ratio, $4
}' "$RESULTS"
fresh=$(awk -F'\t' '$1 == "kumo js-fetch-event fresh" { print $2 }' "$RESULTS")
jcor=$(awk -F'\t' '$1 ~ /^jco serve/ { print $2 }' "$RESULTS")
if [ -n "$fresh" ] && [ -n "$jcor" ]; then
    awk -v k="$fresh" -v j="$jcor" 'BEGIN { if (j > 0) printf \
        "\nkumo js-fetch-event fresh / jco serve --isolate-requests instance: %.1fx (target >= 10x)\n", k / j }'
fi
cfresh=$(awk -F'\t' '$1 == "kumo c-http fresh" { print $2 }' "$RESULTS")
if [ -n "$cfresh" ] && [ -n "$ceiling" ]; then
    awk -v k="$cfresh" -v c="$ceiling" 'BEGIN { if (c > 0) printf \
        "kumo c-http fresh / nginx: %.1f%% (target >= 50%%)\n", 100 * k / c }'
fi
exit 0
