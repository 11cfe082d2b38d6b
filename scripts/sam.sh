#!/usr/bin/env bash
# The template's checks, run by test.sh:
#   sam.sh check   `sam validate --lint` (and cfn-lint on examples/), then the security tests on the SAM-transformed template (tests/template)
#   sam.sh build   `sam build` of the Rust functions, for this machine's architecture when the template's arm64
#                  Rust target is not installed; output outside the clone, so repeated runs are fast
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export PYTHONDONTWRITEBYTECODE=1
build_root="${SAM_BUILD_ROOT:-$HOME/.cache/apigw-authorizers/sam}"

case "${1:-}" in
check)
  echo "== sam validate --lint" >&2
  sam validate --lint --config-file samconfig.example.toml --template-file template.yaml
  cfn-lint examples/*.yaml
  echo "== template security tests (the transformed template)" >&2
  python -m pytest -q -p no:cacheprovider tests/template
  ;;
build)
  echo "== sam build" >&2
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then arch=arm64; else arch=x86_64; fi
  mapfile -t binaries < <(cargo metadata --no-deps --format-version 1 --locked | python -c \
    'import json,sys; print("\n".join(t["name"] for p in json.load(sys.stdin)["packages"] for t in p["targets"] if "bin" in t["kind"]))')
  mkdir -p "$build_root"
  python scripts/sam_build_template.py "$build_root/template.json" "$arch" "${binaries[@]}"
  start=$SECONDS
  (cd "$build_root" && sam build --template-file template.json --build-dir build)
  echo "sam build: $arch in $((SECONDS - start)) s; artifacts in $build_root/build" >&2
  ;;
*)
  echo "usage: sam.sh check|build" >&2
  exit 2
  ;;
esac
