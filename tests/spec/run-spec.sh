#!/usr/bin/env bash
# run-spec.sh KUMO SHARED - run the core spec suite and the extended-const,
# multi-memory and exception-handling proposals with `KUMO spectest`, one log per suite in $OUT (default: the
# folder of KUMO). Exits non-zero when any script fails.
set -u -o pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 KUMO SHARED" >&2
    exit 2
fi
KUMO=$1
SHARED=$2
OUT=${OUT:-$(dirname "$KUMO")}
# Each script runs in its own process so an engine crash fails only that
# script (override with SPEC_FLAGS=).
SPEC_FLAGS=${SPEC_FLAGS---fork}

mkdir -p "$OUT"
rc=0
for suite in core proposals/extended-const proposals/multi-memory \
    proposals/exception-handling; do
    dir=$SHARED/testsuite/$suite
    log=$OUT/spec-$(basename "$suite").log
    if [ ! -d "$dir" ]; then
        echo "run-spec: $dir: no such directory" | tee "$log" >&2
        rc=1
        continue
    fi
    echo "== spectest $suite"
    # shellcheck disable=SC2086
    "$KUMO" spectest -q $SPEC_FLAGS "$dir" 2>&1 | tee "$log" || rc=1
done
exit $rc
