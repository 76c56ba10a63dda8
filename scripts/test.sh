#!/usr/bin/env bash
# `npm test`: every test — unit, emulator integration and end to end — after setup and build.
# With no arguments, the end-to-end suites run after the rest and one at a time: each starts a
# whole platform (five to eight service processes) and, on two cores, two at once starve the
# crash tests' recovery. With arguments, jest runs exactly what is asked.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" # Node 24 (see setup.sh)
echo "test: node $(node --version)"
if [ $# -gt 0 ]; then
  exec pnpm exec jest "$@"
fi
pnpm exec jest --testPathIgnorePatterns '/node_modules/' '/dist/' '<rootDir>/test/e2e/'
exec pnpm exec jest --runInBand test/e2e
