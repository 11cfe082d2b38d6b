#!/usr/bin/env bash
# README command one: sets up what it needs (.venv with moto and cargo-lambda), then runs the demo: a
# Cognito user pool in moto on 127.0.0.1, real tokens, and the TOKEN then the REQUEST authorizer under
# `cargo lambda watch`.
# Everything it starts is stopped when it ends. No AWS account is used or needed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
cargo run --quiet --locked -p harness --bin demo
