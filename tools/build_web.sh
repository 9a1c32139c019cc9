#!/usr/bin/env bash
# Builds the browser engine (web/: fastshap for wasm32 on WebGPU) and its JS glue into
# target/web-pkg, where `fastshap web` takes them from. Needs the wasm32-unknown-unknown target
# and wasm-bindgen-cli at the version Cargo.lock pins; installs both when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[[ -n $want ]] || { echo "error: Cargo.lock pins no wasm-bindgen" >&2; exit 1; }
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ $have != "$want" ]]; then
    echo "installing wasm-bindgen-cli $want (found: ${have:-none})" >&2
    cargo install wasm-bindgen-cli --version "$want"
fi
cargo build -p fastshap-web --release --target wasm32-unknown-unknown
wasm-bindgen --target web --no-typescript --out-dir target/web-pkg \
    target/wasm32-unknown-unknown/release/fastshap_web.wasm
ls -l target/web-pkg >&2
