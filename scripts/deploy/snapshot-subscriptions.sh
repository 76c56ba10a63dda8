#!/usr/bin/env bash
# Usage: snapshot-subscriptions.sh TAG
# Before a deploy, snapshots every Pub/Sub subscription a service consumes (each consumer's
# subscription and its dead-letter watch subscription, from the topic catalogue), named
# SUBSCRIPTION.TAG and labelled app=aiprod. If the new revisions mishandle messages, an operator
# can seek a subscription back to its snapshot and replay (docs/deploy.md). Not the dead-letter
# hold subscriptions: nothing acknowledges them, a snapshot expires with their oldest message
# (7 days), and Pub/Sub refuses one about to expire, so a week-old letter would block every
# deploy; their letters are replayed by `pnpm aiprod replay`, not by seek. A snapshot that
# already exists (a retried build of the same commit) is kept: it holds the older, safer state.
set -euo pipefail
tag="${1:?usage: $0 TAG}"
if [ "${DEPLOY:-true}" = false ]; then
  # The bootstrap build runs before Terraform made the subscriptions (docs/deploy.md, step 4).
  echo "snapshot: DEPLOY=false (bootstrap build): nothing to snapshot" >&2
  exit 0
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
subscriptions="$(node -e '
  const c = require(process.argv[1]);
  for (const s of c.subscriptions)
    for (const name of [s.name, s.deadLetterWatchSubscription]) if (name) console.log(name);
' "$root/packages/contracts/catalogue.json")"
[ -n "$subscriptions" ] || { echo "snapshot: the catalogue lists no subscriptions" >&2; exit 1; }

label="$(printf '%s' "$tag" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_-' '-')"
for subscription in $subscriptions; do
  snapshot="$subscription.$tag"
  if gcloud pubsub snapshots describe "$snapshot" --quiet >/dev/null 2>&1; then
    echo "snapshot: $snapshot exists, kept" >&2
    continue
  fi
  gcloud pubsub snapshots create "$snapshot" --subscription="$subscription" \
    --labels="app=aiprod,build=$label" --quiet
done
