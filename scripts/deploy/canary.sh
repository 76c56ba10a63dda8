#!/usr/bin/env bash
# The canary of a Cloud Build deploy, in three steps that cloudbuild.yaml runs in order:
#
#   canary.sh deploy   record each component's current split, then deploy the new images:
#                      the gateway as a tagged revision with no public traffic (CANARY_PERCENT
#                      of it only if set above 0); each worker pool as a revision that takes no
#                      instances (--no-promote), then POOL_CANARY_PERCENT of its instances.
#   canary.sh smoke    submit a smoke job through the canary's own URL and wait for DELIVERED
#                      (scripts/deploy/smoke-job.mjs); record its exit code.
#   canary.sh decide   smoke delivered, deploy complete and each resource's newest revision the
#                      one this build made: promote (100 % to the new revisions, following
#                      LATEST). Anything else, a failed or partial deploy included: put back every split recorded before the deploy, and fail the build.
#
# A pool's canary is an instance split, not a traffic split: its smoke messages go to whichever
# instance pulls them, so the smoke job proves the mixed fleet (docs/decisions/2026-12-cloud-run-shape.md).
#
# Environment: REGION, TAG (the image tag, $SHORT_SHA), IMAGE_REPO (REGION-docker.pkg.dev/
# PROJECT/aiprod), CANARY_PERCENT, POOL_CANARY_PERCENT, STATE_DIR (shared between steps: /workspace),
# and for `smoke` SMOKE_TIMEOUT_SECONDS (the API key is read from Secret Manager's
# aiprod-smoke-api-key unless SMOKE_API_KEY is set). DEPLOY=false (the bootstrap build) skips all.
# Names are the decision record's; Terraform creates every service and pool, Cloud Build only
# deploys images to them.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
GATEWAY=aiprod-gateway
# pool name and the image it runs (one render image; Terraform sets each pool's RENDER_BACKEND).
POOLS=(
  aiprod-planner:planner
  aiprod-qa:qa
  aiprod-delivery:delivery
  aiprod-render-local:render
  aiprod-render-runway:render
  aiprod-render-veo:render
  aiprod-render-replicate:render
)

: "${STATE_DIR:?}" "${REGION:?}"
state="$STATE_DIR/canary-state"
say() { printf 'canary: %s\n' "$*" >&2; }
status() { node "$here/run-status.mjs" "$@"; }
# </dev/null: decide calls these inside `while read … <"$state"`, whose lines gcloud must not eat.
describe_service() { gcloud run services describe "$1" --region="$REGION" --format=json --quiet </dev/null; }
describe_pool() { gcloud beta run worker-pools describe "$1" --region="$REGION" --format=json --quiet </dev/null; }

deploy() {
  : "${TAG:?}" "${IMAGE_REPO:?}" "${CANARY_PERCENT:?}" "${POOL_CANARY_PERCENT:?}"
  mkdir -p "$STATE_DIR"
  : >"$state"
  rm -f "$STATE_DIR/canary-deployed"

  # Every fact is read into a variable before it is recorded: a failed describe inside
  # `echo "$(…)"` would not stop the script (set -e ignores it there) and would record an empty
  # split that no rollback can restore.
  local split created url
  split="$(describe_service "$GATEWAY" | status split)"
  echo "service $GATEWAY $split" >>"$state"
  # Gateway: the tagged revision answers on its own URL at once, and the smoke job uses that URL.
  # Public traffic reaches it only with CANARY_PERCENT > 0 (default 0: no customer request meets
  # a revision before a smoke job has passed through it).
  # Each revision runs two containers (ours, named app, and the telemetry collector sidecar):
  # --container=app makes --image apply to ours and leaves the collector as Terraform pinned it.
  gcloud run deploy "$GATEWAY" --region="$REGION" --container=app --image="$IMAGE_REPO/gateway:$TAG" \
    --no-traffic --tag=canary --quiet
  created="$(describe_service "$GATEWAY" | status created)"
  echo "new-service $GATEWAY $created" >>"$state"
  if [ "$CANARY_PERCENT" -gt 0 ]; then
    gcloud run services update-traffic "$GATEWAY" --region="$REGION" --to-tags="canary=$CANARY_PERCENT" --quiet
  fi
  url="$(describe_service "$GATEWAY" | status url canary)"
  echo "url $url" >>"$state"

  local entry pool image previous main
  for entry in "${POOLS[@]}"; do
    pool="${entry%%:*}"
    image="${entry#*:}"
    previous="$(describe_pool "$pool" | status split)"
    echo "pool $pool $previous" >>"$state"
    # --no-promote pins LATEST's share to the revision that was LATEST, so the new one starts
    # with no instances; the split below then gives it its canary share.
    gcloud beta run worker-pools deploy "$pool" --region="$REGION" --container=app \
      --image="$IMAGE_REPO/$image:$TAG" --no-promote --quiet
    created="$(describe_pool "$pool" | status created)"
    echo "new-pool $pool $created" >>"$state"
    main="${previous%%,*}"
    main="${main%=*}"
    gcloud beta run worker-pools update-instance-split "$pool" --region="$REGION" \
      --to-revisions="$created=$POOL_CANARY_PERCENT,$main=$((100 - POOL_CANARY_PERCENT))" --quiet
    say "$pool: $created takes $POOL_CANARY_PERCENT % of instances, $main the rest"
  done
  touch "$STATE_DIR/canary-deployed"
}

smoke() {
  rm -f "$STATE_DIR/smoke-exit"
  if [ ! -f "$STATE_DIR/canary-deployed" ]; then
    say "the deploy did not complete; no smoke job"
    echo 99 >"$STATE_DIR/smoke-exit"
    return 0
  fi
  # Read here rather than through Cloud Build's availableSecrets, which fails a whole build when
  # a secret has no version yet, as in the bootstrap build before the smoke tenant exists. The
  # key reaches only the smoke job's environment, never an argument or the log.
  if [ -z "${SMOKE_API_KEY:-}" ]; then
    SMOKE_API_KEY="$(gcloud secrets versions access latest --secret=aiprod-smoke-api-key --quiet)"
    export SMOKE_API_KEY
  fi
  local url token code=0
  url="$(awk '$1 == "url" { print $2 }' "$state")"
  # Behind Cloud Run's invoker check the gateway needs an identity token as well as the API key.
  if token="$(gcloud auth print-identity-token --audiences="$url" --quiet 2>/dev/null)"; then
    export SMOKE_ID_TOKEN="$token"
  else
    say "no identity token for $url; calling with the API key alone"
  fi
  node "$here/smoke-job.mjs" --gateway "$url" --timeout "${SMOKE_TIMEOUT_SECONDS:-600}" \
    --expect-backend local || code=$?
  echo "$code" >"$STATE_DIR/smoke-exit"
  say "smoke job exit code $code"
}

decide() {
  local code kind name split
  if [ ! -f "$state" ]; then
    say "nothing was recorded, so nothing was deployed: failing the build"
    exit 1
  fi
  code="$(cat "$STATE_DIR/smoke-exit" 2>/dev/null || echo missing)"
  if [ -f "$STATE_DIR/canary-deployed" ] && [ "$code" = 0 ]; then
    # Promote only what the smoke job went through: if any resource's newest revision is not the
    # one this build made (a second build, or a terraform apply, during the canary), LATEST is
    # untested code, so roll back instead. Promoting to LATEST (not to a pinned revision) keeps
    # later Terraform changes, which make new revisions, taking effect.
    local tested=1 latest
    while read -r kind name split; do
      case "$kind" in
        new-service) latest="$(describe_service "$name" | status created)" || latest=unknown ;;
        new-pool) latest="$(describe_pool "$name" | status created)" || latest=unknown ;;
        *) continue ;;
      esac
      if [ "$latest" != "$split" ]; then
        say "$name: newest revision is $latest, not $split that the smoke job tested"
        tested=0
      fi
    done <"$state"
    if [ "$tested" = 1 ]; then
      say "smoke job delivered: promoting every new revision"
      gcloud run services update-traffic "$GATEWAY" --region="$REGION" --to-latest --quiet
      for entry in "${POOLS[@]}"; do
        gcloud beta run worker-pools update-instance-split "${entry%%:*}" --region="$REGION" --to-latest --quiet
      done
      return 0
    fi
  fi
  say "rolling back (deploy complete: $([ -f "$STATE_DIR/canary-deployed" ] && echo yes || echo no), smoke exit: $code)"
  local failed=0
  while read -r kind name split; do
    case "$kind" in
      service)
        gcloud run services update-traffic "$name" --region="$REGION" --to-revisions="$split" \
          --remove-tags=canary --quiet </dev/null || failed=1
        ;;
      pool)
        gcloud beta run worker-pools update-instance-split "$name" --region="$REGION" \
          --to-revisions="$split" --quiet </dev/null || failed=1
        ;;
    esac
  done <"$state"
  [ "$failed" = 0 ] || say "some splits could not be restored; see above and docs/deploy.md"
  exit 1
}

# The bootstrap build (docs/deploy.md, step 4) builds and pushes the images Terraform's first
# full apply starts; there is nothing to deploy to yet, so every step stands aside.
if [ "${DEPLOY:-true}" = false ]; then
  say "DEPLOY=false (bootstrap build): ${1:-} skipped, nothing deployed"
  exit 0
fi

case "${1:-}" in
  deploy) deploy ;;
  smoke) smoke ;;
  decide) decide ;;
  *)
    echo "usage: $0 deploy|smoke|decide" >&2
    exit 2
    ;;
esac
