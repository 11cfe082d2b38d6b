#!/usr/bin/env bash
# Installs everything the demo and the tests need that cargo does not: a Python virtual environment in .venv/
# with moto's server (the Cognito/DynamoDB emulator), cargo-lambda, and the SAM CLI, cfn-lint and pytest for the
# template checks. Idempotent; fast when already done.
set -euo pipefail
source "$(dirname "$0")/env.sh"
requirements="$ROOT/scripts/requirements.txt"
stamp="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "setup: installing Python tools from scripts/requirements.txt" >&2
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r "$requirements"
  cp "$requirements" "$stamp"
fi
command -v cargo >/dev/null || { echo "setup: cargo is required (rustup)" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "setup: moto_server missing from $VENV" >&2; exit 1; }
command -v cargo-lambda >/dev/null || { echo "setup: cargo-lambda missing from $VENV" >&2; exit 1; }
command -v sam >/dev/null || { echo "setup: sam (aws-sam-cli) missing from $VENV" >&2; exit 1; }
