# Sourced by every project script: one place for paths and the offline-safe environment.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Build output lives outside the clone so repeated CI runs on one machine reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/apigw-authorizers/target}"
VENV="$ROOT/.venv"
export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"
# The AWS SDK must never reach the instance-metadata address from here.
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0
export PIP_DISABLE_PIP_VERSION_CHECK=1
