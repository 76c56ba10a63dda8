#!/usr/bin/env bash
# Usage: scripts/bundle-service.sh SERVICE OUT
#
# Puts one built service (services/SERVICE, already compiled by `pnpm build`) and its production
# dependencies into OUT, a folder that runs alone: `cd OUT && node dist/main.js`. The Dockerfile
# runs exactly this script, and test/deploy/bundle.test.ts runs it too and starts the result, so
# a file or dependency missing from the image fails `npm test` rather than the first deploy.
#
# `pnpm deploy` copies the service's "files" and installs its dependencies, workspace packages
# included, into OUT/node_modules. It runs --offline: after `pnpm install` (or `pnpm fetch`) the
# store already holds every package, so the bundle needs no network inside or outside Docker.
# The legacy deploy (--legacy) re-resolves every range against the registry and cannot run
# offline; the default deploy derives OUT's lockfile from ours, and asks for injected workspace
# packages, which we turn on for this command only (the workspace itself keeps linked packages,
# so a rebuilt package is seen at once by every service during development).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 SERVICE OUT" >&2
  exit 2
fi
service="$1"
out="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/services/$service/package.json"

case "$service" in
  '' | */* | .*)
    echo "bundle: not a service name: '$service'" >&2
    exit 2
    ;;
esac
if [ ! -f "$manifest" ]; then
  echo "bundle: no service '$service' (expected $manifest)" >&2
  exit 2
fi
if [ ! -f "$root/services/$service/dist/main.js" ]; then
  echo "bundle: services/$service is not built (run pnpm build first)" >&2
  exit 1
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "bundle: $out exists and is not empty" >&2
  exit 1
fi

package="$(node -p 'require(process.argv[1]).name' "$manifest")"
cd "$root"
pnpm deploy --config.inject-workspace-packages=true --filter "$package" --prod --offline \
  --reporter=append-only "$out" >&2

# pnpm deploy succeeds on a package whose "files" leave out its entry point; say so here instead.
if [ ! -f "$out/dist/main.js" ]; then
  echo "bundle: $out/dist/main.js is missing after pnpm deploy" >&2
  exit 1
fi
echo "bundle: $package -> $out" >&2
