#!/bin/bash
# client-tests.sh DEMO CLIENT_TEST WORKDIR - the outbound client
# (tests/http/client-test.c) against the demo server on 127.0.0.1 random
# ports, plain and TLS with a self-signed certificate made here (its own
# CA file). Ends with "http: N passed, N failed" (the client's counts).
set -u
DEMO=$1
CT=$2
WORK=${3:-/tmp/kumo-client-test}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

if ! command -v openssl >/dev/null; then
    echo "client: openssl missing"
    echo "http: 0 passed, 1 failed"
    exit 1
fi
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1

rm -f "$WORK/demo.ports" # never the ports of an earlier run
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=1 \
    "$DEMO" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    >"$WORK/demo.ports" 2>"$WORK/demo.err" &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 50); do
    [ -s "$WORK/demo.ports" ] && break
    sleep 0.1
done
read -r _ PORT TPORT <"$WORK/demo.ports" || true
if [ -z "${TPORT:-}" ]; then
    echo "client: demo server did not start"
    echo "http: 0 passed, 1 failed"
    exit 1
fi
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=1 \
    timeout 600 "$CT" "$PORT" "$TPORT" "$WORK/cert.pem" | tee "$WORK/client.out"
rc=${PIPESTATUS[0]}
# the closing line, in the form tests/summary.sh adds up
line=$(grep -E '^client: [0-9]+ passed, [0-9]+ failed' "$WORK/client.out")
if [ -n "$line" ]; then
    set -- $line
    echo "http: $2 passed, $4 failed"
else
    echo "client: no result line (rc $rc)"
    echo "http: 0 passed, 1 failed"
    rc=1
fi
exit $rc
