#!/bin/sh
# build.sh [NAME...] - rebuild the WASI 0.2 test components of this
# directory: each NAME.c (default: all p2*.c) is compiled with Debian's
# clang + wasi-libc (wasm32-wasi, a reactor exporting wasi:cli/run;
# wasi2.h says why), the WIT world of world.wit (with the
# WASI 0.2.12 packages of $SHARED/spec/wasi) is embedded with `jco embed`,
# and `jco new --wasi-reactor` wraps it with the bundled preview1 adapter
# into NAME.component.wasm here. The results are committed, so tests run
# without npm; rerun this after changing a guest and commit the output.
#
# jco: $JCO if set, else the version package.json pins, installed once
# into $JCO_HOME (default ~/.cache/kumo-jco) with `npm install`.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$HERE/../../../../shared}
WASM_CC=${WASM_CC:-clang}
WASI=$SHARED/spec/wasi/0.2.12/proposals
[ -d "$WASI" ] || { echo "build.sh: no WASI WIT in $WASI (set SHARED)" >&2; exit 1; }

if [ -z "${JCO:-}" ]; then
    JCO_HOME=${JCO_HOME:-$HOME/.cache/kumo-jco}
    if [ ! -x "$JCO_HOME/node_modules/.bin/jco" ] ||
       ! cmp -s "$HERE/package.json" "$JCO_HOME/package.json"; then
        mkdir -p "$JCO_HOME"
        cp "$HERE/package.json" "$JCO_HOME/package.json"
        (cd "$JCO_HOME" && npm install --no-audit --no-fund --loglevel=error)
    fi
    JCO=$JCO_HOME/node_modules/.bin/jco
fi
# jco's bundled wasm-tools reads --wit through a WASI shim that needs a
# preopen (preopens.mjs); it does not follow symlinks, so copy the WIT.
MODULES=$(cd "$(dirname "$(readlink -f "$JCO")")/../.." && pwd)
TMP=$(mktemp -d /tmp/kumo-wasi-components.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/wit/deps"
cp "$HERE/world.wit" "$TMP/wit/"
for p in io clocks random cli filesystem sockets; do
    mkdir -p "$TMP/wit/deps/$p"
    cp "$WASI/$p/wit/"*.wit "$TMP/wit/deps/$p/"
done

[ $# -gt 0 ] || set -- $(cd "$HERE" && ls p2*.c | sed 's/[.]c$//')
for name in "$@"; do
    name=${name%.c}
    echo "build.sh: $name.component.wasm"
    $WASM_CC --target=wasm32-wasi -mexec-model=reactor -Os -Wall -Wextra \
        -Werror -Wl,--strip-all -o "$TMP/$name.wasm" "$HERE/$name.c"
    JCO_MODULES=$MODULES node --import "$HERE/preopens.mjs" "$JCO" embed \
        "$TMP/$name.wasm" --wit "$TMP/wit" -n guest -o "$TMP/$name.e.wasm"
    "$JCO" new "$TMP/$name.e.wasm" --wasi-reactor \
        -o "$HERE/$name.component.wasm"
done
