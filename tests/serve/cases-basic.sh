# shellcheck shell=bash
# cases-basic.sh - sourced by run-tests.sh: the command line, protocols,
# the shared components, streaming, trailers and gRPC.

# ---- command line: usage errors exit 2, unservable components exit 1
t() { timeout 20 "$KUMO" serve "$@" >/dev/null 2>"$WORK/usage.err"; echo $?; }
check "usage: no component -> 2" "$(t)" 2
check "usage: unknown option -> 2" "$(t --no-such-option "$FIX/info.component.wasm")" 2
check "usage: bad --pool-size -> 2" "$(t $L --pool-size lots "$FIX/info.component.wasm")" 2
check "usage: --listen without a port -> 2" "$(t --listen 127.0.0.1 "$FIX/info.component.wasm")" 2
check "missing file -> 1" "$(t $L "$WORK/does-not-exist.wasm")" 1
check "not a component (text) -> 1" "$(t $L "$HERE/client.py")" 1
check "component without wasi:http/incoming-handler -> 1" \
    "$(t $L "$COMP/c-hello.command.component.wasm")" 1
rc=$(t $L --allow-host '*foo' "$FIX/outbound.component.wasm")
if [ "$rc" = 1 ] || [ "$rc" = 2 ]; then
    checkre "bad --allow-host pattern refused and named" "$(cat "$WORK/usage.err")" '\*foo'
else
    bad "bad --allow-host pattern refused and named" "exit $rc"
fi

# h2many NAME URL GREETING: many HTTP/2 requests on one connection: 500 in
# a row (h2load -m1) by status, and 200 multiplexed (nghttp -m) by content.
# (curl 7.88 fails every second request it sends on a reused h2
# connection - "Error in the HTTP2 framing layer", against nginx too - so
# curl does only one request per h2 connection here.)
h2many() {
    local name=$1 url=$2 hello=$3 out
    if command -v h2load >/dev/null; then
        out=$(timeout 300 h2load -n 500 -c 1 -m 1 "$url/seq" 2>&1)
        check "$name: 500 requests in a row (h2, one connection)" \
            "$(echo "$out" | grep -E '^(requests|status codes):' | tr -s ' ' | tr '\n' ' ')" \
            "requests: 500 total, 500 started, 500 done, 500 succeeded, 0 failed, 0 errored, 0 timeout status codes: 500 2xx, 0 3xx, 0 4xx, 0 5xx "
    else
        skipped "$name: 500 requests in a row (h2)" "h2load missing"
    fi
    if command -v nghttp >/dev/null; then
        out=$(timeout 300 nghttp -m 200 "$url/mux" 2>&1)
        check "$name: 200 multiplexed requests (h2, one connection)" \
            "$(echo "$out" | grep -c "^$hello\$") $(echo "$out" | grep -c '^path=/mux$')" "200 200"
    else
        skipped "$name: 200 multiplexed requests (h2)" "nghttp missing"
    fi
}

# ---- c-http: HTTP/1.1, keep-alive, h2c, TLS with ALPN, access log
rm -f "$WORK/access.log"
start chttp "$COMP/c-http.component.wasm" $L $TLS --access-log "$WORK/access.log"
CH=$PID
checkre "serving line names the component and a real port" \
    "$(grep 'kumo: serving' "$WORK/chttp.err" | head -1)" \
    'kumo: serving .*c-http.component.wasm on http://127\.0\.0\.1:[1-9][0-9]*'
out=$($C "$U/hello?x=1")
check "c-http HTTP/1.1" "$out" "$(printf 'Hello from C\npath=/hello?x=1\ncount=1')"
out=$($C -v "$U/k1" "$U/k2" "$U/k3" 2>&1)
check "keep-alive: 3 requests on 1 connection" \
    "$(echo "$out" | grep -c 'Re-using existing connection')" 2
check "keep-alive: 3 answers in order" \
    "$(echo "$out" | grep -o '^path=.*' | tr '\n' ' ')" "path=/k1 path=/k2 path=/k3 "
# answer: "path=... count=... version=..."
pcv() { $C -w '\nversion=%{http_version}' "$@" | grep -E '^(path|count|version)=' | tr '\n' ' '; }
check "h2c prior knowledge" "$(pcv --http2-prior-knowledge "$U/h2c")" \
    "path=/h2c count=1 version=2 "
check "h2c via Upgrade" \
    "$($C --http2 -w '%{http_version}' -o /dev/null "$U/up")" 2
check "TLS h2 (ALPN)" "$(pcv -k --http2 "$S/tls")" "path=/tls count=1 version=2 "
check "TLS http/1.1 (ALPN)" "$(pcv -k --http1.1 "$S/tls1")" \
    "path=/tls1 count=1 version=1.1 "
out=$($C "$U/r[1-500]")
check "c-http: 500 requests in a row (HTTP/1.1)" \
    "$(echo "$out" | grep -c '^Hello from C$') $(echo "$out" | grep '^path=/r' | sort -u | wc -l)" "500 500"
h2many "c-http" "$U" "Hello from C"
h2many "c-http TLS" "$S" "Hello from C"
cp=""
for i in $(seq 20); do $C -o "$WORK/par.$i" "$U/par$i" & cp="$cp $!"; done
wait $cp
check "c-http: 20 parallel requests" \
    "$(cat "$WORK"/par.* | grep -c '^Hello from C$')" 20
rm -f "$WORK"/par.*
$C -o /dev/null "$U/alog-1"
$C --http2-prior-knowledge -o /dev/null "$U/alog-2"
stopped "c-http: SIGTERM -> exit 0" $CH
n=$(grep -c . "$WORK/access.log" 2>/dev/null || echo 0)
if [ "$n" -ge 1000 ]; then ok "access log: a line per request ($n)"; else
    bad "access log: a line per request" "$n lines for 1031 requests"; fi
checkre "access log: method, path, status (HTTP/1.1)" \
    "$(grep -F '/alog-1' "$WORK/access.log" 2>/dev/null)" 'GET.*/alog-1.*200'
checkre "access log: method, path, status (h2)" \
    "$(grep -F '/alog-2' "$WORK/access.log" 2>/dev/null)" 'GET.*/alog-2.*200'
# "Hello from C\npath=/alog-1\ncount=1\n" is 34 bytes
checkre "access log: bytes and a duration" \
    "$(grep -F '/alog-1' "$WORK/access.log" 2>/dev/null)" '(^|[^0-9])34([^0-9]|$).*[0-9]'


# ---- the JavaScript components (fresh instances; direct also warm)
js() { # NAME FILE ARGS...
    local name=$1 file=$2
    shift 2
    start "$name" "$COMP/$file" $L "$@" || return
    local out
    out=$($C -m 300 "$U/js[1-500]")
    check "$name: 500 requests in a row (HTTP/1.1)" \
        "$(echo "$out" | grep -c '^Hello from JS$') $(echo "$out" | grep '^path=/js' | sort -u | wc -l)" "500 500"
    h2many "$name" "$U" "Hello from JS"
    stopped "$name: SIGTERM -> exit 0" $PID
}
js js-fetch-event js-hello-fetch-event.component.wasm
js js-direct js-hello-direct.component.wasm
js js-direct-warm js-hello-direct.component.wasm --pool-size 2

# ---- echo: bodies both ways, status and header, 100-continue, trailers
start echo "$FIX/echo.component.wasm" $L $TLS
EC=$PID
check "echo: content-length body" \
    "$($C --data-binary @"$WORK/r.bin" "$U/" | cmp - "$WORK/r.bin" && echo same)" same
check "echo: chunked upload" \
    "$($C -T "$WORK/r.bin" -H 'Transfer-Encoding: chunked' "$U/" | cmp - "$WORK/r.bin" && echo same)" same
out=$($C -i -H 'x-status: 201' -H 'x-echo: hi there' --data-binary 'ping' "$U/" | tr -d '\r')
checkre "echo: status from x-status" "$(echo "$out" | head -1)" '^HTTP/1.1 201'
checkre "echo: x-echo header copied" "$out" 'x-echo: hi there'
check "echo: body" "$(echo "$out" | tail -1)" ping
out=$($C -v -H 'Expect: 100-continue' --data-binary @"$WORK/r.bin" -o "$WORK/o.bin" "$U/" 2>&1)
check "echo: 100-continue sent" "$(echo "$out" | grep -c '^< HTTP/1.1 100 Continue')" 1
check "echo: 100-continue body" "$(cmp "$WORK/o.bin" "$WORK/r.bin" && echo same)" same
check "echo: empty body" "$($C -X POST -w '%{http_code} %{size_download}' -o /dev/null "$U/")" "200 0"
check "echo: h2c body" \
    "$($C --http2-prior-knowledge --data-binary @"$WORK/r.bin" "$U/" | cmp - "$WORK/r.bin" && echo same)" same
check "echo: TLS h2 body" \
    "$($C -k --http2 --data-binary @"$WORK/r.bin" "$S/" | cmp - "$WORK/r.bin" && echo same)" same
check "echo: TLS http/1.1 chunked body" \
    "$($C -k --http1.1 -T "$WORK/r.bin" -H 'Transfer-Encoding: chunked' "$S/" | cmp - "$WORK/r.bin" && echo same)" same
check "trailers both ways (HTTP/1.1 chunked)" \
    "$($CLIENT trailers "$PORT" /t)" "200 abcdef x-b=q,x-sum=42"
printf 'abcdef' >"$WORK/six.bin"
if command -v nghttp >/dev/null; then
    out=$(timeout 20 nghttp -v --trailer 'x-sum: 42' -d "$WORK/six.bin" "$U/t2" 2>&1)
    checkre "trailers both ways (h2c, nghttp)" "$out" 'recv \(stream_id=[0-9]+\) x-sum: 42'
else
    skipped "trailers both ways (h2c)" "nghttp missing"
fi

# 200 MB streamed through the guest: same bytes back, flat server memory
gen() { openssl enc -aes-128-ctr -nosalt -pass pass:kumo -pbkdf2 </dev/zero 2>/dev/null | head -c 200000000; }
want=$(gen | sha256sum | cut -d' ' -f1)
stream() { # LABEL CURL-ARGS...
    local label=$1 before after got
    shift
    before=$(hwm $EC)
    got=$(gen | $C -m 300 "$@" | sha256sum | cut -d' ' -f1)
    after=$(hwm $EC)
    echo "     $label: server VmHWM ${before} kB before, ${after} kB after"
    check "200 MB streamed echo ($label)" "$got" "$want"
    if [ $((after - before)) -lt 51200 ]; then ok "flat memory ($label)"; else
        bad "flat memory ($label)" "VmHWM grew $((after - before)) kB"; fi
}
stream "HTTP/1.1 chunked" -T - "$U/big"
stream "h2c" --http2-prior-knowledge -T - "$U/big"
stopped "echo: SIGTERM -> exit 0" $EC

# ---- gRPC: h2 with content-type application/grpc and trailers
start grpc "$FIX/grpc.component.wasm" $L $TLS
printf '\000\000\000\000\013hello grpc!' >"$WORK/grpc.bin"
for mode in "--http2-prior-knowledge $U" "-k --http2 $S"; do
    set -- $mode
    url=${!#}
    rm -f "$WORK/g.txt" "$WORK/g.bin"
    $C "${@:1:$#-1}" -H 'content-type: application/grpc' -H 'te: trailers' \
        --data-binary @"$WORK/grpc.bin" -D "$WORK/g.txt" -o "$WORK/g.bin" "$url/pkg.Svc/Call"
    check "gRPC round trip, curl $1: message" \
        "$(cmp "$WORK/g.bin" "$WORK/grpc.bin" 2>&1 && echo same)" same
    check "gRPC round trip, curl $1: content-type and grpc-status trailer" \
        "$(tr -d '\r' <"$WORK/g.txt" 2>/dev/null | grep -c -E '^(content-type: application/grpc|grpc-status: 0)$')" 2
done
set --
if command -v nghttp >/dev/null; then
    out=$(timeout 20 nghttp -v -H ':method: POST' -H 'content-type: application/grpc' \
        -H 'te: trailers' -d "$WORK/grpc.bin" "$U/pkg.Svc/Call" 2>&1)
    checkre "gRPC round trip, nghttp: response trailer grpc-status" "$out" \
        'recv \(stream_id=[0-9]+\) grpc-status: 0'
    check "gRPC round trip, nghttp: message" \
        "$(timeout 20 nghttp -H ':method: POST' -H 'content-type: application/grpc' \
            -d "$WORK/grpc.bin" "$U/pkg.Svc/Call" | cmp - "$WORK/grpc.bin" && echo same)" same
else
    skipped "gRPC round trip (nghttp)" "nghttp missing"
fi
stopped "grpc: SIGTERM -> exit 0" $PID

# ---- info: what the guest sees of the request
start info "$FIX/info.component.wasm" $L $TLS --env KUMO_TEST=hello
IN=$PID
out=$($C -X PUT -H 'x-test: one' "$U/a/b?c=d")
check "info: method, path, scheme, authority (HTTP/1.1)" \
    "$(echo "$out" | grep -E '^(method|path|scheme|authority)=' | tr '\n' ' ')" \
    "method=PUT path=/a/b?c=d scheme=http authority=127.0.0.1:$PORT "
checkre "info: request headers" "$out" 'header:x-test=one'
checkre "info: --env reaches the guest" "$out" 'env:KUMO_TEST=hello'
out=$($C --http2-prior-knowledge -X PATCH "$U/h2?q")
check "info: method, path, scheme, authority (h2c)" \
    "$(echo "$out" | grep -E '^(method|path|scheme|authority)=' | tr '\n' ' ')" \
    "method=PATCH path=/h2?q scheme=http authority=127.0.0.1:$PORT "
out=$($C -k --http2 -X FROB "$S/tls")
check "info: method, path, scheme, authority (TLS h2)" \
    "$(echo "$out" | grep -E '^(method|path|scheme|authority)=' | tr '\n' ' ')" \
    "method=FROB path=/tls scheme=https authority=127.0.0.1:$TPORT "
check "pipelining: 3 requests in one write, answered in order" \
    "$($CLIENT pipeline "$PORT")" "3 200:path=/p1 200:path=/p2 200:path=/p3"
check "pipelining then a half-close: every held request answered" \
    "$($CLIENT pipeline-eof "$PORT")" "3 200:path=/p1 200:path=/p2 200:path=/p3"
out=$($C -X PROPFIND "$U/dav")
check "info: a method outside the WIT enum (other)" "$(echo "$out" | head -1)" "method=PROPFIND"
# the default limits: 16 KiB of request head, 100 fields
big=$(head -c 20000 /dev/zero | tr '\0' a)
check "431 for a 20 KB header (HTTP/1.1)" "$(code -H "x-big: $big" "$U/")" 431
check "431 for a 20 KB header (h2c)" "$(code --http2-prior-knowledge -H "x-big: $big" "$U/")" 431
check "431 for a 20 KB header (TLS h2)" "$(code -k --http2 -H "x-big: $big" "$S/")" 431
big=$(head -c 100000 /dev/zero | tr '\0' a)
check "431 for a 100 KB header (HTTP/1.1)" "$(code -H "x-big: $big" "$U/")" 431
hs=()
for i in $(seq 150); do hs+=(-H "x-h$i: v"); done
check "431 for 150 headers (HTTP/1.1)" "$(code "${hs[@]}" "$U/")" 431
check "431 for 150 headers (h2c)" "$(code --http2-prior-knowledge "${hs[@]}" "$U/")" 431
check "info: still serving after the limits" "$($C "$U/after" | sed -n 2p)" "path=/after"
stopped "info: SIGTERM -> exit 0" $IN
