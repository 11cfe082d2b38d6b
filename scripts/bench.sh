#!/usr/bin/env bash
# Runs the release authorizers against a minimal local Lambda Runtime API (benches/runtime) and prints cold
# start, warm path, memory and binary size beside the targets; BENCHMARKS.md explains the figures.
# Extra arguments go to the runner, e.g. `bash scripts/bench.sh --invocations 20000 --cold-starts 5`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

echo "== machine"
echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), nproc $(nproc), kernel $(uname -r)"
echo "$(rustc -V), source $(git describe --always --dirty 2>/dev/null || echo unknown)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== build" >&2
cargo build --release --locked -p token-authorizer -p request-authorizer
arm64=aarch64-unknown-linux-gnu
if rustup target list --installed 2>/dev/null | grep -qx "$arm64"; then
    # Needs a cross linker and C compiler (ring); without them arm64 sizes are reported as not built.
    cargo build --release --locked --target "$arm64" -p token-authorizer -p request-authorizer ||
        echo "arm64 build failed: arm64 sizes are not reported" >&2
fi

bench() { cargo run --release --locked -p runtime-bench -- --bin-dir "$CARGO_TARGET_DIR/release" "$@"; }
echo
echo "== run: a unique trace id per invocation, as Lambda sends"
bench "$@"
echo
echo "== control: one constant trace id, to isolate what per-invocation trace ids cost"
bench "$@" --cold-starts 0 --trace-ids constant
