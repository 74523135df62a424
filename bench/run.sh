#!/bin/sh
# bench/run.sh - build the benchmark programs natively (gcc -O2) and for
# wasm32-wasi (clang + wasi-libc), run each natively and under Kumo, and
# print per program the median times and their ratio, then the geometric
# mean of the ratios and the instantiation cost. Numbers, never assertions.
#
# Usage: bench/run.sh [BUILD_DIR]      (called by `make bench`)
# Environment:
#   BENCH_QUICK=1     smoke run: scale 10%, 3 runs
#   BENCH_RUNS=N      runs per mode (default 5)
#   BENCH_SCALE=P     work in percent of the default (default 100)
#   BENCH_BUDGET=S    stop a mode early after S seconds (after >= 3 runs)
#   BENCH_ONLY="a b"  only these programs
#   CC, WASM_CC       native compiler (gcc), wasm compiler (clang)
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
OUT=$BUILD/bench
CC=${CC:-gcc}
WASM_CC=${WASM_CC:-clang}
RUNS=${BENCH_RUNS:-5}
SCALE=${BENCH_SCALE:-100}
BUDGET=${BENCH_BUDGET:-15}
INST=200
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    RUNS=${BENCH_RUNS:-3}
    SCALE=${BENCH_SCALE:-10}
    INST=20
fi
PROGRAMS=${BENCH_ONLY:-$(ls bench/programs/*.c | sed 's|.*/||; s|\.c$||')}
WARN="-std=c11 -Wall -Wextra -Werror"

mkdir -p "$OUT" || exit 1
if [ ! -f "$BUILD/libkumo.a" ]; then
    echo "bench: $BUILD/libkumo.a missing (run make first)" >&2
    exit 1
fi

# ---- build ----
$CC $WARN -O2 -D_GNU_SOURCE -Iinclude -DBENCH_KUMO -o "$OUT/runner-kumo" \
    bench/runner.c "$BUILD/libkumo.a" -lm || exit 1
for p in $PROGRAMS; do
    src=bench/programs/$p.c
    $CC $WARN -O2 -D_GNU_SOURCE -o "$OUT/$p-native" bench/runner.c "$src" -lm ||
        exit 1
    $WASM_CC $WARN --target=wasm32-wasi -O2 -mexec-model=reactor \
        -Wl,--strip-debug -o "$OUT/$p.wasm" "$src" || {
        echo "bench: cannot build wasm (apt-get install wasi-libc lld-14" \
             "libclang-rt-14-dev-wasm32, or set WASM_CC)" >&2
        exit 1
    }
done

# ---- run ----
# field NAME FILE: the value after NAME on the summary line
field() {
    sed -n "s/^median_ms .* $1 \([^ ]*\).*/\1/p" "$2"
}
median() {
    sed -n 's/^median_ms \([^ ]*\).*/\1/p' "$1"
}

echo "Kumo benchmarks: $RUNS runs per mode, scale $SCALE%," \
     "native $($CC --version | head -1 | sed 's/ (.*)//')," \
     "wasm $($WASM_CC --version | head -1 | sed 's/ (.*)//')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
printf '%-10s %12s %12s %8s  %s\n' program "native ms" "kumo ms" ratio checksum
errors=0
ratios=
for p in $PROGRAMS; do
    nlog=$OUT/$p.native.log
    klog=$OUT/$p.kumo.log
    "$OUT/$p-native" -n "$RUNS" -s "$SCALE" -t "$BUDGET" >"$nlog" 2>&1
    "$OUT/runner-kumo" -n "$RUNS" -s "$SCALE" -t "$BUDGET" "$OUT/$p.wasm" \
        >"$klog" 2>&1
    krc=$?
    nms=$(median "$nlog")
    nsum=$(field checksum "$nlog")
    kms=$(median "$klog")
    ksum=$(field checksum "$klog")
    if [ -z "$nms" ]; then
        echo "ERROR: $p: native run failed: $(tail -1 "$nlog")"
        errors=$((errors + 1))
        continue
    fi
    if [ $krc -ne 0 ] || [ -z "$kms" ]; then
        why=$(grep -m1 ERROR "$klog" || tail -1 "$klog")
        [ -z "$why" ] && why="exit status $krc"
        printf '%-10s %12.1f %12s %8s\n' "$p" "$nms" FAIL -
        echo "ERROR: $p: kumo: $why"
        errors=$((errors + 1))
        continue
    fi
    ratio=$(awk -v k="$kms" -v n="$nms" 'BEGIN { printf "%.2f", k / n }')
    printf '%-10s %12.1f %12.1f %7sx  %s\n' "$p" "$nms" "$kms" "$ratio" "$nsum"
    if [ "$nsum" != "$ksum" ]; then
        echo "ERROR: $p: checksum mismatch: native $nsum, kumo $ksum" \
             "(an engine bug)"
        errors=$((errors + 1))
        continue
    fi
    ratios="$ratios $ratio"
done

if [ -n "$ratios" ]; then
    echo "$ratios" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += log($i);
        printf "geometric mean of kumo/native ratios: %.2fx over %d programs\n",
               exp(s / NF), NF }'
fi

# Instantiation cost: decode once, then store + instantiate + _initialize
# + free, many times; on lz (the real-world-style program) when selected.
ip=$(echo $PROGRAMS | tr ' ' '\n' | grep -x lz || echo $PROGRAMS | tr ' ' '\n' | head -1)
big=$OUT/$ip.wasm
ilog=$OUT/inst.log
if "$OUT/runner-kumo" -i "$INST" "$big" >"$ilog" 2>&1; then
    echo "instantiation ($(basename "$big"), $(wc -c <"$big") bytes," \
         "store+instantiate+_initialize+free, median of $INST):" \
         "$(sed -n 's/^inst_us //p' "$ilog") us"
else
    echo "ERROR: instantiation cost run failed: $(grep -m1 ERROR "$ilog")"
    errors=$((errors + 1))
fi
[ $errors -eq 0 ] || echo "bench: $errors error(s); see $OUT/*.log"
exit 0
