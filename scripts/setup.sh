#!/bin/sh
# Installs what building and testing Kumo needs on Debian 12.
set -e
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    build-essential clang llvm libclang-rt-14-dev libjansson-dev python3 \
    libuv1-dev lld-14 wasi-libc libclang-rt-14-dev-wasm32 wabt \
    rustc libstd-rust-dev-wasm32 \
    ca-certificates git \
    libuv1-dev node-llhttp libnghttp2-dev libssl-dev openssl curl \
    nghttp2-client libcurl4-openssl-dev wrk nginx-light >/dev/null
echo "setup: dependencies installed"
