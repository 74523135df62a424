#!/bin/bash
# run-tests.sh DEMO WORKDIR - drive the HTTP server (tests/http/demo.c)
# with curl and small python3 socket scripts on 127.0.0.1 random ports:
# HTTP/1.1 keep-alive and pipelining, chunked bodies, 100-continue, h2c
# (prior knowledge and Upgrade), h2 and http/1.1 over TLS with ALPN, a
# 200 MB streamed echo with flat RSS, trailers, gRPC, every limit, slow
# clients, the deadline and graceful shutdown. Ends with
# "http: N passed, N failed".
set -u
DEMO=$1
WORK=${2:-/tmp/kumo-http-test}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
pass=0
fail=0
PIDS=""

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$2' want '$3'"; fi; }

cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

for tool in curl openssl python3; do
    if ! command -v $tool >/dev/null; then
        echo "http: $tool missing"
        echo "http: 0 passed, 1 failed"
        exit 1
    fi
done

# start NAME ARGS...: run the demo, wait for its ports (PORT, TPORT, PID).
start() {
    local name=$1
    shift
    # (a small ASan quarantine, should DEMO be a sanitizer build: RSS checks)
    ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=1 \
        "$DEMO" "$@" >"$WORK/$name.ports" 2>"$WORK/$name.err" &
    PID=$!
    PIDS="$PIDS $PID"
    for _ in $(seq 50); do
        [ -s "$WORK/$name.ports" ] && break
        sleep 0.1
    done
    read -r _ PORT TPORT <"$WORK/$name.ports" || true
}

C="curl -sS -m 20"

# ---- main server: TLS and plain, access log, default limits
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 1 -subj /CN=localhost >/dev/null 2>&1
rm -f "$WORK/access.log"
start main --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --access-log "$WORK/access.log"
MAIN=$PID
U=http://127.0.0.1:$PORT
S=https://127.0.0.1:$TPORT

check "h1 hello" "$($C $U/hello)" "Hello"
check "h1 404" "$($C -o /dev/null -w '%{http_code}' $U/nope)" "404"
out=$($C -v $U/hello $U/hello $U/hello 2>&1)
check "h1 keep-alive (3 requests, 1 connection)" \
    "$(echo "$out" | grep -c 'Re-using existing connection')" "2"

cat >"$WORK/pipeline.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
          b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
          b"GET /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
parts = data.split(b"HTTP/1.1 ")
print(len(parts) - 1, b"Hello" in parts[1], b"abcde" in parts[2],
      b"x-checksum: abc123" in parts[3])
EOF
check "h1 pipelining (3 in one write, in order)" \
    "$(python3 "$WORK/pipeline.py" "$PORT")" "3 True True True"

head -c 3000000 /dev/urandom >"$WORK/r.bin"
check "h1 echo (content-length)" \
    "$($C --data-binary @"$WORK/r.bin" $U/echo | cmp - "$WORK/r.bin" && echo same)" same
check "h1 chunked upload echo" \
    "$($C -T "$WORK/r.bin" -H 'Transfer-Encoding: chunked' $U/echo | cmp - "$WORK/r.bin" && echo same)" same
out=$($C -v -H 'Expect: 100-continue' --data-binary @"$WORK/r.bin" \
    -o "$WORK/o.bin" $U/echo 2>&1)
check "h1 100-continue" "$(echo "$out" | grep -c '< HTTP/1.1 100 Continue')" "1"
check "h1 100-continue body" "$(cmp "$WORK/o.bin" "$WORK/r.bin" && echo same)" same
out=$($C --raw -i $U/trailers)
check "h1 chunked response with trailers" \
    "$(echo "$out" | tr -d '\r' | grep -c -E '^(transfer-encoding: chunked|x-checksum: abc123|x-done: yes)$')" "3"

cat >"$WORK/reqtrailers.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /reqtrailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 42\r\nx-b: q\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(b"x-sum=42" in data and b"x-b=q" in data)
EOF
check "h1 request trailers" "$(python3 "$WORK/reqtrailers.py" "$PORT")" "True"

check "h2c prior knowledge" "$($C --http2-prior-knowledge -w ' %{http_version}' $U/hello)" "Hello 2"
check "h2c Upgrade" "$($C --http2 -w ' %{http_version}' $U/hello)" "Hello 2"
out=$($C --http2-prior-knowledge -v $U/hello $U/trailers 2>&1)
check "h2c two requests on one connection" \
    "$(echo "$out" | grep -c 'Re-using existing connection')" "1"
check "h2 echo" \
    "$($C --http2-prior-knowledge --data-binary @"$WORK/r.bin" $U/echo | cmp - "$WORK/r.bin" && echo same)" same
$C --http2-prior-knowledge -D "$WORK/h.txt" -o /dev/null $U/trailers
check "h2 response trailers" \
    "$(tr -d '\r' <"$WORK/h.txt" | grep -c -E '^(x-checksum: abc123|x-done: yes)$')" "2"
check "TLS ALPN h2" "$($C -k --http2 -w ' %{http_version}' $S/hello)" "Hello 2"
check "TLS ALPN http/1.1" "$($C -k --http1.1 -w ' %{http_version}' $S/hello)" "Hello 1.1"
check "TLS h2 echo" \
    "$($C -k --http2 --data-binary @"$WORK/r.bin" $S/echo | cmp - "$WORK/r.bin" && echo same)" same
check "TLS h1 chunked echo" \
    "$($C -k --http1.1 -T "$WORK/r.bin" -H 'Transfer-Encoding: chunked' $S/echo | cmp - "$WORK/r.bin" && echo same)" same

# gRPC unary: a 5-byte frame header + message, te: trailers, grpc-status.
printf '\000\000\000\000\013hello grpc!' >"$WORK/grpc.bin"
for mode in "--http2-prior-knowledge $U" "-k --http2 $S"; do
    set -- $mode
    url=${!#}
    $C "${@:1:$#-1}" -H 'content-type: application/grpc' -H 'te: trailers' \
        --data-binary @"$WORK/grpc.bin" -D "$WORK/g.txt" -o "$WORK/g.bin" "$url/grpc"
    check "gRPC round trip ($1)" \
        "$(cmp "$WORK/g.bin" "$WORK/grpc.bin" && tr -d '\r' <"$WORK/g.txt" | grep -c -E '^(content-type: application/grpc|grpc-status: 0)$')" "2"
done

# 200 MB streamed echo; the server's RSS must stay flat.
stream() {
    local label=$1
    shift
    local before peak=0 r
    before=$(awk '/VmRSS/ {print $2}' /proc/$MAIN/status)
    head -c 200000000 /dev/zero | $C -m 120 "$@" -o "$WORK/big.out" \
        -w '%{size_download}' >"$WORK/big.n" &
    local cp=$!
    while kill -0 $cp 2>/dev/null; do
        r=$(awk '/VmRSS/ {print $2}' /proc/$MAIN/status)
        [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.05
    done
    wait $cp
    echo "     $label: RSS before ${before} kB, peak ${peak} kB"
    check "200 MB streamed echo ($label)" "$(cat "$WORK/big.n")" "200000000"
    if [ $((peak - before)) -lt 20000 ]; then ok "flat RSS ($label)"; else
        bad "flat RSS ($label)" "grew $((peak - before)) kB"; fi
}
stream "HTTP/1.1 chunked" -T - $U/echo
stream "h2c" --http2-prior-knowledge -T - $U/echo
stream "h2 TLS" -k --http2 -T - $S/echo
rm -f "$WORK/big.out"

check "access log lines" "$(grep -c -E '^GET /hello HTTP/(1.1|2) 200 5 [0-9]+ms$' "$WORK/access.log")" "10"

# Graceful shutdown: an in-flight request (HTTP/1.1 and HTTP/2) completes,
# new connections are refused, the process exits.
$C $U/slow?ms=2500 >"$WORK/s1.out" &
c1=$!
$C --http2-prior-knowledge $U/slow?ms=2500 >"$WORK/s2.out" &
c2=$!
sleep 1
kill -TERM $MAIN
sleep 0.3
if $C -m 2 $U/hello >/dev/null 2>&1; then bad "shutdown: new connection refused"; else
    ok "shutdown: new connection refused"; fi
wait $c1 $c2
check "shutdown: in-flight HTTP/1.1 request completed" "$(cat "$WORK/s1.out")" "slow done"
check "shutdown: in-flight h2 request completed" "$(cat "$WORK/s2.out")" "slow done"
for _ in $(seq 50); do kill -0 $MAIN 2>/dev/null || break; sleep 0.1; done
if kill -0 $MAIN 2>/dev/null; then bad "shutdown: exited"; else
    wait $MAIN; check "shutdown: exited" "$?" "0"; fi

# ---- limits server
start limits --max-body 1000 --max-concurrent 2 --max-header-bytes 4096 \
    --max-header-count 20 --header-timeout 800 --body-timeout 800 \
    --idle-timeout 1500 --deadline 2500
LIM=$PID
L=http://127.0.0.1:$PORT
big=$(head -c 5000 /dev/zero | tr '\0' a)
check "431 header bytes (h1)" "$($C -o /dev/null -w '%{http_code}' -H "x-big: $big" $L/hello)" "431"
check "431 header bytes (h2)" "$($C --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H "x-big: $big" $L/hello)" "431"
hs=()
for i in $(seq 25); do hs+=(-H "x-h$i: v"); done
check "431 header count (h1)" "$($C -o /dev/null -w '%{http_code}' "${hs[@]}" $L/hello)" "431"
check "431 header count (h2)" "$($C --http2-prior-knowledge -o /dev/null -w '%{http_code}' "${hs[@]}" $L/hello)" "431"
head -c 5000 /dev/zero >"$WORK/5k.bin"
check "413 content-length (h1)" "$($C -o /dev/null -w '%{http_code}' --data-binary @"$WORK/5k.bin" $L/echo)" "413"
check "413 content-length (h2)" "$($C --http2-prior-knowledge -o /dev/null -w '%{http_code}' --data-binary @"$WORK/5k.bin" $L/echo)" "413"
check "413 chunked body (h1)" "$($C -o /dev/null -w '%{http_code}' -T "$WORK/5k.bin" -H 'Transfer-Encoding: chunked' $L/grpc)" "413"
check "413 with 100-continue (no body sent)" "$($C -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' --data-binary @"$WORK/5k.bin" $L/echo)" "413"
check "body under the limit passes" "$(head -c 900 /dev/zero | $C --data-binary @- $L/echo | wc -c)" "900"

$C -o "$WORK/c1" $L/slow?ms=1500 &
p1=$!
$C -o "$WORK/c2" $L/slow?ms=1500 &
p2=$!
sleep 0.7
check "503 over the concurrency cap (h1)" "$($C -o /dev/null -w '%{http_code}' $L/hello)" "503"
check "503 over the concurrency cap (h2)" "$($C --http2-prior-knowledge -o /dev/null -w '%{http_code}' $L/hello)" "503"
wait $p1 $p2
check "requests under the cap complete" "$(cat "$WORK/c1" "$WORK/c2")" "slow done
slow done"
check "cap released afterwards" "$($C $L/hello)" "Hello"
check "504 at the per-request deadline" "$($C -o /dev/null -w '%{http_code}' $L/slow?ms=5000)" "504"
# An HTTP/2 connection in use for longer than the header timeout (800 ms)
# must not be closed by it, whether its requests are answered at once
# (12 at 8 per second) or later (six 300 ms requests in a row).
if command -v h2load >/dev/null; then
    check "h2 connection outlives the header timeout (quick answers)" \
        "$(h2load -n 12 -c 1 --rps 8 "$L/hello" 2>&1 | grep -o '12 succeeded')" \
        "12 succeeded"
    check "h2 connection outlives the header timeout (slow answers)" \
        "$(h2load -n 6 -c 1 -m 1 "$L/slow?ms=300" 2>&1 | grep -o '6 succeeded')" \
        "6 succeeded"
fi

cat >"$WORK/slow.py" <<'EOF'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
if mode == "head":
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
elif mode == "body":
    s.sendall(b"POST /grpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
elif mode == "idle":
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(10)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except Exception as e:
    print("error", e)
line = data.split(b"\r\n")[-1 if mode == "x" else 0].decode()
if mode == "idle":
    line = data.split(b"\r\n")[0].decode() + " " + str(data.count(b"HTTP/1.1"))
print(line, "closed after %.1fs" % (time.time() - t0) if time.time() - t0 < 5 else "late")
EOF
out=$(python3 "$WORK/slow.py" $PORT head)
check "slow header -> 408 and close" "${out%% closed*}" "HTTP/1.1 408 Request Timeout"
out=$(python3 "$WORK/slow.py" $PORT body)
check "slow body -> 408 and close" "${out%% closed*}" "HTTP/1.1 408 Request Timeout"
out=$(python3 "$WORK/slow.py" $PORT idle)
check "idle keep-alive connection closed" "${out%% closed*}" "HTTP/1.1 200 OK 1"
check "malformed request -> 400" "$(printf 'GARBAGE\r\n\r\n' | python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); print(s.recv(100).split(b"\r\n")[0].decode())' $PORT)" "HTTP/1.1 400 Bad Request"
check "server alive after limits" "$($C $L/stats | cut -d' ' -f1)" "connections"
kill -TERM $LIM
wait $LIM
check "limits server exited cleanly" "$?" "0"

echo "http: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
