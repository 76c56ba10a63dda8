#!/usr/bin/env bash
# `npm test`: every test — unit, emulator integration and end to end — after setup and build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec pnpm exec jest "$@"
