#!/bin/bash
# run-tests.sh KUMO OUTDIR [SHARED] - integration tests of `kumo serve`:
# each case starts `KUMO serve APP --listen 127.0.0.1:0 ...`, reads the
# bound port from its "kumo: serving APP on http://ADDR:PORT" line and
# checks the answers by content with curl, nghttp and client.py (raw
# HTTP/1.1): HTTP/1.1 keep-alive, pipelining, chunked bodies, 100-continue,
# h2c, h2 and http/1.1 over TLS (a self-signed certificate made here), the
# shared C and JavaScript components, a 200 MB streamed echo with flat
# memory, trailers both ways, gRPC, traps, deadlines, memory caps, every
# limit, the access log, SIGTERM drain, outbound allow-lists, warm reuse
# and, when the CLI has them, --workload routers. The guests are the
# components in tests/serve/fixtures (sources and build.sh beside them).
# Ends with "serve: N passed, N failed, N skipped"; exits 1 on a failure.
set -u
KUMO=$1
WORK=${2:-/tmp/kumo-serve-test}
SHARED=${3:-../shared}
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/fixtures
CLIENT="python3 $HERE/client.py"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SHARED=$(cd "$SHARED" && pwd)
COMP=$SHARED/components
KUMO=$(cd "$(dirname "$KUMO")" && pwd)/$(basename "$KUMO")
pass=0
fail=0
skip=0
PIDS=""

ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
skipped() { skip=$((skip + 1)); echo "SKIP $1${2:+: $2}"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$2' want '$3'"; fi; }
# checkre NAME VALUE ERE: VALUE matches the extended regular expression
checkre() {
    if printf '%s' "$2" | grep -qE -- "$3"; then ok "$1"; else
        bad "$1" "got '$(printf '%s' "$2" | head -c 300 | tr '\n' '|')' want /$3/"; fi
}

cleanup() { for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT

for tool in curl openssl python3; do
    if ! command -v $tool >/dev/null; then
        echo "serve: $tool missing"
        echo "serve: 0 passed, 1 failed"
        exit 1
    fi
done
if ! "$KUMO" help 2>&1 | grep -qE '^ +serve '; then
    echo "serve: '$KUMO help' lists no serve command"
    echo "serve: 0 passed, 1 failed"
    exit 1
fi

C="curl -sS -m 20"
code() { $C -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }

# serve NAME ARGS...: run `KUMO serve ARGS` (stdout/stderr in
# WORK/NAME.{out,err}) until it printed one "kumo: serving" line per
# listener (60 s at most: the JS components are 14 MB). Sets PID, PORT
# (http://), TPORT (https://), U and S (their base URLs); returns 1 when it
# did not come up, with RC set to its exit status if it exited.
serve() {
    local name=$1 want=0 a
    shift
    for a in "$@"; do
        case $a in --listen | --tls-listen) want=$((want + 1)) ;; esac
    done
    [ $want -eq 0 ] && want=1
    PORT="" TPORT="" RC=""
    "$KUMO" serve "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
    PIDS="$PIDS $PID"
    for _ in $(seq 600); do
        [ "$(grep -c 'kumo: serving .* on https\?://' "$WORK/$name.err")" -ge $want ] && break
        if ! kill -0 $PID 2>/dev/null; then
            wait $PID
            RC=$?
            break
        fi
        sleep 0.1
    done
    PORT=$(sed -n 's|.*kumo: serving .* on http://.*:\([0-9][0-9]*\).*|\1|p' "$WORK/$name.err" | head -1)
    TPORT=$(sed -n 's|.*kumo: serving .* on https://.*:\([0-9][0-9]*\).*|\1|p' "$WORK/$name.err" | head -1)
    U=http://127.0.0.1:$PORT
    S=https://127.0.0.1:$TPORT
    if [ -z "$PORT" ] && [ -z "$TPORT" ]; then
        [ -n "$RC" ] || RC=running
        return 1
    fi
    return 0
}

# start NAME ARGS...: serve, and count a failure when it does not come up.
start() {
    local name=$1
    if serve "$@"; then return 0; fi
    bad "$name: server came up" "exit $RC: $(tail -3 "$WORK/$name.err" | tr '\n' '|')"
    return 1
}

# stop PID: SIGTERM, then ST = its exit status (or "killed" after 15 s).
# Runs in this shell (not in $(...)), which alone can wait for the server.
stop() {
    local p=$1
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p"
        wait "$p" 2>/dev/null
        ST=killed
        return
    fi
    wait "$p"
    ST=$?
}
# stopped NAME PID: stop, and check that it exited 0
stopped() { stop "$2"; check "$1" "$ST" 0; }

# hwm PID: the peak resident set (VmHWM) in kB
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 1 -subj /CN=localhost >/dev/null 2>&1
TLS="--tls-listen 127.0.0.1:0 --tls-cert $WORK/cert.pem --tls-key $WORK/key.pem"
L="--listen 127.0.0.1:0"
head -c 3000000 /dev/urandom >"$WORK/r.bin"

# shellcheck source=/dev/null
. "$HERE/cases-basic.sh"
# shellcheck source=/dev/null
. "$HERE/cases-limits.sh"

echo "serve: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
