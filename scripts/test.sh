#!/usr/bin/env bash
# README command two: sets up what the tests need, then runs every check and test of the workspace.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
echo "== format and lints" >&2
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
bash scripts/sam.sh check
echo "== tests (unit, adversarial, integration with moto and cargo lambda watch)" >&2
cargo test --workspace --locked
bash scripts/sam.sh build
