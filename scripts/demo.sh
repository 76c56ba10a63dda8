#!/usr/bin/env bash
# `npm run demo`: sets up, starts the local platform, renders the sample brief into a video,
# stops the platform, and prints the absolute path of the delivered MP4 as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" # Node 24 (see setup.sh)
exec node infra/local/dist/cli.js demo "$@"
