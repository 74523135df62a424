# shellcheck shell=bash
# cases-limits.sh - sourced by run-tests.sh: instance reuse, failing
# guests, every limit, SIGTERM drain, outbound allow-lists and routers.

# wait_for FILE TEXT: until FILE holds TEXT (30 s at most)
wait_for() {
    for _ in $(seq 300); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- instance reuse: c-http counts the requests one instance served
counts() { for i in 1 2 3 4; do $C "$U/c$i" | sed -n 's/^count=//p'; done | tr '\n' ' '; }
start fresh "$COMP/c-http.component.wasm" $L &&
    check "fresh instance per request (count stays 1)" "$(counts)" "1 1 1 1 " &&
    stopped "fresh: SIGTERM -> exit 0" $PID
start nosnap "$COMP/c-http.component.wasm" $L --no-snapshot &&
    check "--no-snapshot: fresh instance per request (count stays 1)" \
        "$(counts)" "1 1 1 1 " &&
    stopped "no-snapshot: SIGTERM -> exit 0" $PID
# A constructor reads the environment and random bytes while the component
# is instantiated: such instances are instantiated for every request, never
# restored from a snapshot (which would repeat the random bytes).
if start initcall "$FIX/initcall.component.wasm" $L --env KUMO_TEST=hi; then
    out=$(for i in 1 2 3; do $C "$U/i$i"; done)
    check "instantiation calling the host: a fresh instance each request" \
        "$(echo "$out" | sed -n 's/.*count=//p' | tr '\n' ' ')" "1 1 1 "
    check "... that read the environment" "$(echo "$out" | grep -c '^init=hi ')" 3
    check "... and new random bytes each time" \
        "$(echo "$out" | sed -n 's/.*random=\([0-9a-f]*\).*/\1/p' | sort -u | wc -l)" 3
    check "... with a note on stderr" \
        "$(grep -c 'instantiation calls the host' "$WORK/initcall.err")" 1
    stopped "initcall: SIGTERM -> exit 0" $PID
fi
start warm "$COMP/c-http.component.wasm" $L --pool-size 1 &&
    check "warm reuse with --pool-size 1 (count increases)" "$(counts)" "1 2 3 4 " &&
    stopped "warm: SIGTERM -> exit 0" $PID
start maxinv "$COMP/c-http.component.wasm" $L --pool-size 1 --max-invocations 2 &&
    check "--max-invocations 2 retires the instance" "$(counts)" "1 2 1 2 " &&
    stopped "max-invocations: SIGTERM -> exit 0" $PID

# ---- guests that fail: 500, and the server goes on
if start trap "$FIX/trap.component.wasm" $L; then
    check "trap -> 500" "$(code "$U/t1")" 500
    check "trap again -> 500 (server unaffected)" "$(code "$U/t2")" 500
    check "trap over h2c -> 500" "$(code --http2-prior-knowledge "$U/t3")" 500
    cp=""
    for i in $(seq 10); do code "$U/p$i" >"$WORK/ptrap.$i" & cp="$cp $!"; done
    wait $cp
    check "10 parallel traps -> 10 x 500" "$(cat "$WORK"/ptrap.* | tr -d '\n')" \
        "500500500500500500500500500500"
    rm -f "$WORK"/ptrap.*
    # the instances that trapped are restored: nothing of the trapped
    # requests (each counted itself) is left in them
    check "after traps, a fresh instance (count=1)" \
        "$($C "$U/ok1")$($C "$U/ok2")" "ok count=1ok count=1"
    stopped "trap: SIGTERM -> exit 0" $PID
fi
if start spin "$FIX/spin.component.wasm" $L --timeout 1000; then
    checkre "spin with --timeout 1000 -> 500/504" "$(code -m 30 "$U/s1")" '^50[04]$'
    checkre "spin again -> 500/504 (server unaffected)" "$(code -m 30 "$U/s2")" '^50[04]$'
    checkre "spin over h2c -> 500/504" "$(code -m 30 --http2-prior-knowledge "$U/s3")" '^50[04]$'
    stopped "spin: SIGTERM -> exit 0" $PID
fi
if start bigmem "$FIX/bigmem.component.wasm" $L --max-memory 67108864; then
    out=$($C -w '\n%{http_code}' "$U/")
    checkre "bigmem: memory.grow refused at --max-memory 64 MiB" "$out" \
        'refused=yes'
    mib=$(echo "$out" | sed -n 's/.*grew \([0-9]*\) MiB.*/\1/p')
    if [ -n "$mib" ] && [ "$mib" -le 64 ]; then ok "bigmem: grew $mib MiB (<= 64)"; else
        bad "bigmem: growth within the cap" "got '$(echo "$out" | tr '\n' '|')'"; fi
    check "bigmem: answered 200" "$(echo "$out" | tail -1)" 200
    checkre "bigmem: next request too" "$($C "$U/")" 'refused=yes'
    stopped "bigmem: SIGTERM -> exit 0" $PID
fi
if start noresp "$FIX/noresponse.component.wasm" $L; then
    check "no response set -> 500" "$(code "$U/")" 500
    check "no response set -> 500 (h2c)" "$(code --http2-prior-knowledge "$U/")" 500
    stopped "noresponse: SIGTERM -> exit 0" $PID
fi

# ---- --max-concurrency: 2 requests held in the guest, the third gets 503
if start conc "$FIX/echo.component.wasm" $L --max-concurrency 2; then
    rm -f "$WORK/go1"
    $CLIENT hold "$PORT" 2 /hold "$WORK/go1" >"$WORK/hold.out" &
    hp=$!
    if wait_for "$WORK/hold.out" ready; then
        check "503 over --max-concurrency (HTTP/1.1)" "$(code --data-binary x "$U/")" 503
        check "503 over --max-concurrency (h2c)" \
            "$(code --http2-prior-knowledge --data-binary x "$U/")" 503
    else
        bad "--max-concurrency: 2 requests held" "$(head -c 300 "$WORK/hold.out")"
    fi
    touch "$WORK/go1"
    wait $hp
    check "requests under the cap complete" "$(tail -1 "$WORK/hold.out")" \
        "200 abcxyz | 200 abcxyz"
    check "cap released afterwards" "$($C --data-binary again "$U/")" again
    stopped "conc: SIGTERM -> exit 0" $PID
fi
if start conc1 "$FIX/spin.component.wasm" $L --max-concurrency 1 --timeout 3000; then
    cp=""
    for i in $(seq 6); do code -m 30 "$U/b$i" >"$WORK/burst.$i" & cp="$cp $!"; done
    wait $cp
    out=$(for f in "$WORK"/burst.*; do cat "$f"; echo; done | sort | tr '\n' ' ')
    rm -f "$WORK"/burst.*
    # the loop stays free while a guest computes (time slices)
    checkre "a spinning guest does not stall the server (503s at --max-concurrency 1)" \
        "$out" '503'
    checkre "6 parallel spins, --max-concurrency 1: one ran to the deadline" "$out" '50[04] .*503|^50[04] '
    stopped "conc1: SIGTERM -> exit 0" $PID
fi

# ---- --max-body
if start maxbody "$FIX/echo.component.wasm" $L --max-body 1000; then
    head -c 5000 /dev/zero >"$WORK/5k.bin"
    check "413 over --max-body (content-length)" \
        "$(code --data-binary @"$WORK/5k.bin" "$U/")" 413
    check "413 over --max-body (h2c)" \
        "$(code --http2-prior-knowledge --data-binary @"$WORK/5k.bin" "$U/")" 413
    check "413 over --max-body with 100-continue" \
        "$(code -H 'Expect: 100-continue' --data-binary @"$WORK/5k.bin" "$U/")" 413
    # the echo answers before the body ends: past the limit either 413 or
    # an aborted response (curl fails), never a clean 200
    rm -f "$WORK/5k.out"
    out=$($C -T "$WORK/5k.bin" -H 'Transfer-Encoding: chunked' \
        -w '%{http_code}' -o "$WORK/5k.out" "$U/" 2>/dev/null)
    crc=$?
    n=$(cat "$WORK/5k.out" 2>/dev/null | wc -c)
    if [ "$out" = 413 ] || [ $crc -ne 0 ]; then
        ok "chunked body over --max-body refused (status $out, curl exit $crc, $n bytes)"
    else
        bad "chunked body over --max-body refused" "clean $out with $n bytes"
    fi
    check "body under --max-body echoed" \
        "$(head -c 900 /dev/zero | $C --data-binary @- "$U/" | wc -c)" 900
    stopped "maxbody: SIGTERM -> exit 0" $PID
fi

# ---- SIGTERM drains: a request in flight completes, then exit 0
if start drain "$FIX/echo.component.wasm" $L; then
    DR=$PID
    rm -f "$WORK/go2"
    $CLIENT hold "$PORT" 1 /drain "$WORK/go2" >"$WORK/drain.out" &
    hp=$!
    if wait_for "$WORK/drain.out" ready; then
        kill -TERM $DR
        for _ in $(seq 50); do
            code -m 2 "$U/" >/dev/null || break
            sleep 0.1
        done
        check "drain: new connections refused after SIGTERM" "$(code -m 2 "$U/")" 000
    else
        bad "drain: request held" "$(head -c 300 "$WORK/drain.out")"
    fi
    touch "$WORK/go2"
    wait $hp
    check "drain: in-flight request completes" "$(tail -1 "$WORK/drain.out")" "200 abcxyz"
    stopped "drain: exit 0" $DR
fi

# ---- outbound wasi:http/outgoing-handler against a local upstream
mkdir -p "$WORK/www"
echo upstream-ok >"$WORK/www/u.txt"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$WORK/www" \
    >"$WORK/upstream.out" 2>&1 &
UPP=$!
PIDS="$PIDS $UPP"
wait_for "$WORK/upstream.out" 'port [0-9]'
UP=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$WORK/upstream.out" | head -1)
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fetch() { $C -H "x-url: $1" "$U/" | tr '\n' ' '; }
DENIED="error=HTTP-request-denied "
if start out-port "$FIX/outbound.component.wasm" $L --allow-host "127.0.0.1:$UP"; then
    check "outbound allowed (host:port)" "$(fetch "http://127.0.0.1:$UP/u.txt")" "status=200 upstream-ok "
    check "outbound upstream status passed through" \
        "$(fetch "http://127.0.0.1:$UP/missing" | cut -d' ' -f1)" "status=404"
    check "outbound denied: other port" "$(fetch "http://127.0.0.1:$CLOSED/u.txt")" "$DENIED"
    check "outbound denied: other host" "$(fetch "http://localhost:$UP/u.txt")" "$DENIED"
    check "outbound denied -> 502 from the guest" \
        "$(code -H "x-url: http://127.0.0.1:$CLOSED/" "$U/")" 502
    stop $PID
fi
if start out-none "$FIX/outbound.component.wasm" $L; then
    check "outbound denied by default" "$(fetch "http://127.0.0.1:$UP/u.txt")" "$DENIED"
    stop $PID
fi
if start out-any "$FIX/outbound.component.wasm" $L --allow-host '*'; then
    check "outbound allowed ('*')" "$(fetch "http://127.0.0.1:$UP/u.txt")" "status=200 upstream-ok "
    check "outbound connection refused -> error-code" \
        "$(fetch "http://127.0.0.1:$CLOSED/")" "error=connection-refused "
    stop $PID
fi
if start out-scheme "$FIX/outbound.component.wasm" $L \
        --allow-host "http://127.0.0.1:$UP" --allow-host "LOCALHOST:$UP"; then
    check "outbound allowed (scheme://host:port)" "$(fetch "http://127.0.0.1:$UP/u.txt")" "status=200 upstream-ok "
    check "outbound denied: other scheme" "$(fetch "https://127.0.0.1:$UP/u.txt")" "$DENIED"
    check "outbound allowed: host matched case-insensitively" \
        "$(fetch "http://localhost:$UP/u.txt")" "status=200 upstream-ok "
    stop $PID
fi
if start out-suffix "$FIX/outbound.component.wasm" $L \
        --allow-host '*.localhost' --allow-host 'example.com'; then
    check "outbound denied: *.localhost does not match localhost" \
        "$(fetch "http://localhost:$UP/u.txt")" "$DENIED"
    check "outbound denied: example.com does not match 127.0.0.1" \
        "$(fetch "http://127.0.0.1:$UP/u.txt")" "$DENIED"
    stop $PID
fi
kill $UPP 2>/dev/null
wait $UPP 2>/dev/null

# ---- routers: several workloads by virtual host (when the CLI has them)
if serve router --workload info.test="$FIX/info.component.wasm" \
        --workload trap.test="$FIX/trap.component.wasm" \
        --workload hello.test="$COMP/c-http.component.wasm" $L; then
    RT=$PID
    out=$($C -H 'Host: info.test' "$U/r1")
    check "router: Host selects the workload" \
        "$(echo "$out" | grep -E '^(path|authority)=' | tr '\n' ' ')" "path=/r1 authority=info.test "
    check "router: port stripped, case-insensitive" \
        "$($C -H 'Host: HELLO.Test:8080' "$U/r2" | head -1)" "Hello from C"
    check "router: h2c :authority" \
        "$($C --http2-prior-knowledge -H 'Host: hello.test' "$U/r3" | head -1)" "Hello from C"
    check "router: a trapping workload -> 500" "$(code -H 'Host: trap.test' "$U/")" 500
    check "router: the other workloads unaffected" \
        "$($C -H 'Host: hello.test' "$U/r4" | sed -n 2p)" "path=/r4"
    check "router: unknown host -> 404" "$(code -H 'Host: nobody.test' "$U/")" 404
    check "router: no Host -> 400" "$($CLIENT nohost "$PORT")" 400
    stopped "router: SIGTERM -> exit 0" $RT
elif [ "$RC" = 2 ]; then
    skipped "router cases" "kumo serve does not take --workload yet (usage error)"
else
    bad "router: server came up" "exit $RC: $(tail -3 "$WORK/router.err" | tr '\n' '|')"
fi
