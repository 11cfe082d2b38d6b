#!/usr/bin/env bash
# README command two: sets up what the tests need, then runs every check and test of the workspace.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
# The target directory outlives each run and cargo never prunes it: builds of superseded dependency versions
# and incremental caches piled up to 59 GB here once and filled the disk. Past 20 GB its debug half (tests,
# lints) starts afresh; the release half (sam build, the slow part) is kept.
if [ -d "$CARGO_TARGET_DIR/debug" ] && [ "$(du -s --block-size=1G "$CARGO_TARGET_DIR" | cut -f1)" -gt 20 ]; then
    echo "== $CARGO_TARGET_DIR is over 20 GB: removing its debug builds" >&2
    rm -rf "$CARGO_TARGET_DIR/debug"
fi
echo "== format and lints" >&2
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
bash scripts/sam.sh check
echo "== tests (unit, adversarial, integration with moto and cargo lambda watch)" >&2
cargo test --workspace --locked
bash scripts/sam.sh build
