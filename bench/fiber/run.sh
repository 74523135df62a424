#!/bin/sh
# bench/fiber/run.sh [BUILD_DIR] - what a fiber switch costs, before (the
# ucontext backend: swapcontext, one rt_sigprocmask system call per
# switch) and after (the x86-64 switch of src/wasi/fiber_x86_64.c).
# Called by `make bench-fiber`, which passes CC, KUMO_CFLAGS, LIBS and
# CLI_LIBS. The "before" is built here from the same sources with
# -DKX_FIBER_UCONTEXT: the fiber objects compiled that way are linked
# ahead of libkumo.a into a second pingpong and a second kumo.
#
#   pingpong      two fibers resumed in turn (switches/s) and a kx_wait
#                 with timeout 0 through the libuv loop (waits/s)
#   echo          `kumo run` of a guest that reads its stdin one byte at
#                 a time while bench/fiber/drive.c feeds it in lockstep,
#                 so each read waits on the loop (round trips/s)
#
# Medians of BENCH_RUNS (default 5) runs and their ratio after/before.
# Numbers, never assertions. BENCH_QUICK=1 for a smoke run.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${1:-build}
OUT=$B/bench/fiber
CC=${CC:-cc}
CFLAGS=${KUMO_CFLAGS:--std=c11 -D_GNU_SOURCE -Iinclude -Isrc -I$B/gen -O2}
LIBS=${LIBS:--lm -luv -lpthread -lnghttp2 -lssl -lcrypto -lcurl}
CLI_LIBS=${CLI_LIBS:--ljansson}
WASM_CC=${WASM_CC:-clang}
RUNS=${BENCH_RUNS:-5}
SCALE=${BENCH_SCALE:-100}
ECHO_N=${BENCH_ECHO_N:-20000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    RUNS=${BENCH_RUNS:-3}
    SCALE=${BENCH_SCALE:-10}
    ECHO_N=${BENCH_ECHO_N:-2000}
fi

mkdir -p "$OUT" || exit 1
[ -f "$B/libkumo.a" ] && [ -x "$B/kumo" ] ||
    { echo "bench-fiber: $B/libkumo.a or $B/kumo missing" >&2; exit 1; }

# ---- build
UC=""
for f in fiber fiber_ucontext fiber_x86_64; do
    $CC $CFLAGS -DKX_FIBER_UCONTEXT -c "src/wasi/$f.c" -o "$OUT/uc-$f.o" ||
        exit 1
    UC="$UC $OUT/uc-$f.o"
done
$CC $CFLAGS -o "$OUT/pingpong" bench/fiber/pingpong.c "$B/libkumo.a" \
    $LIBS || exit 1
$CC $CFLAGS -o "$OUT/pingpong-uc" bench/fiber/pingpong.c $UC \
    "$B/libkumo.a" $LIBS || exit 1
$CC -o "$OUT/kumo-uc" "$B"/obj/src/cli/*.o $UC "$B/libkumo.a" $CLI_LIBS \
    $LIBS || exit 1
$CC -O2 -o "$OUT/drive" bench/fiber/drive.c || exit 1
ECHO=1
$WASM_CC --target=wasm32-wasi -O2 -o "$OUT/echo.wasm" bench/fiber/echo.c \
    2>/dev/null || ECHO=0

# ---- run
median() { sort -n | sed -n "$(((RUNS + 1) / 2))p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else printf "-" }'; }
row() { printf '%-28s %14s %14s %7sx\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
count() { printf '%-28s %14s %14s\n' "$1" "$2" "$3"; }

"$OUT/pingpong-uc" "$SCALE" >"$OUT/pp-uc.txt" || exit 1
"$OUT/pingpong" "$SCALE" >"$OUT/pp.txt" || exit 1
echo "== bench-fiber: medians of $RUNS runs (after/before)"
printf '%-28s %14s %14s %8s\n' "" "$(sed -n '1s/ switches.*//p' "$OUT/pp-uc.txt")" \
    "$(sed -n '1s/ switches.*//p' "$OUT/pp.txt")" "ratio"
row "switches/s" "$(awk 'NR==1 {print $NF}' "$OUT/pp-uc.txt")" \
    "$(awk 'NR==1 {print $NF}' "$OUT/pp.txt")"
row "kx_wait(0) round trips/s" "$(awk 'NR==2 {print $NF}' "$OUT/pp-uc.txt")" \
    "$(awk 'NR==2 {print $NF}' "$OUT/pp.txt")"
if [ $ECHO = 1 ]; then
    for k in kumo-uc kumo; do
        bin=$OUT/kumo-uc
        [ $k = kumo ] && bin=$B/kumo
        i=0
        while [ $i -lt "$RUNS" ]; do
            "$OUT/drive" "$bin" "$OUT/echo.wasm" "$ECHO_N" || exit 1
            i=$((i + 1))
        done | median >"$OUT/echo-$k.txt"
    done
    row "kumo run echo round trips/s" "$(cat "$OUT/echo-kumo-uc.txt")" \
        "$(cat "$OUT/echo-kumo.txt")"
else
    echo "echo: skipped (no wasm32-wasi toolchain: $WASM_CC)"
fi
# The system calls behind the difference (strace, when installed).
if command -v strace >/dev/null 2>&1; then
    for k in pingpong-uc pingpong; do
        strace -f -c -o "$OUT/strace-$k.txt" "$OUT/$k" 1 >/dev/null
    done
    n() { awk '$NF == "rt_sigprocmask" {print $4} END {print 0}' "$1" |
              head -1; }
    count "pingpong 1: rt_sigprocmask" "$(n "$OUT/strace-pingpong-uc.txt")" \
        "$(n "$OUT/strace-pingpong.txt")"
fi
