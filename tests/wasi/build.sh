#!/bin/sh
# build.sh OUTDIR [SHARED] - build the WASI guest programs of tests/wasi
# (and ../shared/components/{c-hello,c-grow}.c, rust-hello.rs when rustc
# for wasm32-wasi is there) as preview1 core modules into OUTDIR with
# Debian's clang + wasi-libc. Exits 3 when the toolchain is missing.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=$1
SHARED=${2:-../shared}
WASM_CC=${WASM_CC:-clang}
mkdir -p "$OUT" || exit 1
probe=$OUT/.probe.c
echo 'int main(void){return 0;}' > "$probe"
if ! $WASM_CC --target=wasm32-wasi -O2 -o "$OUT/.probe.wasm" "$probe" \
        2>/dev/null; then
    echo "build.sh: no wasm32-wasi C toolchain (apt-get install clang" \
         "lld-14 wasi-libc libclang-rt-14-dev-wasm32)" >&2
    exit 3
fi
rm -f "$probe" "$OUT/.probe.wasm"
rc=0
for src in tests/wasi/*.c "$SHARED/components/c-hello.c" \
           "$SHARED/components/c-grow.c"; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c)
    out=$OUT/$name.wasm
    if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
        $WASM_CC --target=wasm32-wasi -O2 -Wall -Wl,--strip-debug \
            -o "$out" "$src" || rc=1
    fi
done
RUSTC=${RUSTC:-/usr/bin/rustc}
rs=$SHARED/components/rust-hello.rs
if [ -x "$RUSTC" ] && [ -f "$rs" ]; then
    out=$OUT/rust-hello.wasm
    if [ ! -f "$out" ] || [ "$rs" -nt "$out" ]; then
        "$RUSTC" -O --target wasm32-wasi "$rs" -o "$out" 2>/dev/null ||
            rm -f "$out"
    fi
fi
exit $rc
