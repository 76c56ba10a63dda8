#!/usr/bin/env bash
# Installs what the project needs on a fresh machine of this kind, then builds. Idempotent and
# quick when everything is already there, so `npm run demo` and `npm test` both start with it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
# espeak-ng: the offline voice-over engine (@aiprod/speech).
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || missing+=(fonts-dejavu-core)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# A real Prometheus for the local platform's metrics and for the tests of the dashboards' PromQL.
[ -x "${PROMETHEUS_BIN:-/usr/bin/prometheus}" ] || missing+=(prometheus)
# Debian's Chromium for the review page's browser test (playwright-core drives it; no browser download).
[ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Google Cloud CLI with its Pub/Sub and Firestore emulators and Java come with the machine image.
for tool in gcloud java; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is missing: the local platform needs the Google Cloud CLI emulators and Java 17"; exit 1; }
done

if ! command -v pnpm >/dev/null 2>&1; then
  say "installing pnpm 10 (npm)"
  npm install -g pnpm@10 >/dev/null
fi

if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  say "installing dependencies"
  pnpm install --frozen-lockfile --reporter=silent
fi

# The runtime is Node 24 LTS from the npm package `node` (a devDependency): every script puts
# node_modules/.bin first on its PATH, so `node` is v24 whatever the machine's own Node is.
export PATH="$PWD/node_modules/.bin:$PATH"
case "$(node --version)" in
  v24.*) ;;
  *) say "expected Node 24 from node_modules/.bin, found $(node --version)"; exit 1 ;;
esac

say "building on Node $(node --version)"
pnpm run --silent build
