#!/usr/bin/env bash
# The canary of a Cloud Build deploy, in three steps that cloudbuild.yaml runs in order:
#
#   canary.sh deploy   record each component's current split, then deploy the new images:
#                      the gateway as a tagged revision with no traffic, then CANARY_PERCENT of
#                      its traffic to the tag; each worker pool as a revision that takes no
#                      instances (--no-promote), then POOL_CANARY_PERCENT of its instances.
#   canary.sh smoke    submit a smoke job through the canary's own URL and wait for DELIVERED
#                      (scripts/deploy/smoke-job.mjs); record its exit code.
#   canary.sh decide   smoke delivered and deploy complete: promote (100 % to the new revisions,
#                      following LATEST). Anything else, a failed or partial deploy included:
#                      put back every split recorded before the deploy, and fail the build.
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
describe_service() { gcloud run services describe "$1" --region="$REGION" --format=json --quiet; }
describe_pool() { gcloud beta run worker-pools describe "$1" --region="$REGION" --format=json --quiet; }

deploy() {
  : "${TAG:?}" "${IMAGE_REPO:?}" "${CANARY_PERCENT:?}" "${POOL_CANARY_PERCENT:?}"
  mkdir -p "$STATE_DIR"
  : >"$state"
  rm -f "$STATE_DIR/canary-deployed"

  # Gateway: the tagged revision answers on its own URL at once (the smoke job uses it); the
  # public URL sends it CANARY_PERCENT of requests.
  echo "service $GATEWAY $(describe_service "$GATEWAY" | status split)" >>"$state"
  gcloud run deploy "$GATEWAY" --region="$REGION" --image="$IMAGE_REPO/gateway:$TAG" \
    --no-traffic --tag=canary --quiet
  gcloud run services update-traffic "$GATEWAY" --region="$REGION" --to-tags="canary=$CANARY_PERCENT" --quiet
  echo "url $(describe_service "$GATEWAY" | status url canary)" >>"$state"

  local entry pool image previous main created
  for entry in "${POOLS[@]}"; do
    pool="${entry%%:*}"
    image="${entry#*:}"
    previous="$(describe_pool "$pool" | status split)"
    echo "pool $pool $previous" >>"$state"
    # --no-promote pins LATEST's share to the revision that was LATEST, so the new one starts
    # with no instances; the split below then gives it its canary share.
    gcloud beta run worker-pools deploy "$pool" --region="$REGION" --image="$IMAGE_REPO/$image:$TAG" \
      --no-promote --quiet
    created="$(describe_pool "$pool" | status created)"
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
    say "smoke job delivered: promoting every new revision"
    gcloud run services update-traffic "$GATEWAY" --region="$REGION" --to-latest --quiet
    for entry in "${POOLS[@]}"; do
      gcloud beta run worker-pools update-instance-split "${entry%%:*}" --region="$REGION" --to-latest --quiet
    done
    return 0
  fi
  say "rolling back (deploy complete: $([ -f "$STATE_DIR/canary-deployed" ] && echo yes || echo no), smoke exit: $code)"
  local failed=0
  while read -r kind name split; do
    case "$kind" in
      service)
        gcloud run services update-traffic "$name" --region="$REGION" --to-revisions="$split" \
          --remove-tags=canary --quiet || failed=1
        ;;
      pool)
        gcloud beta run worker-pools update-instance-split "$name" --region="$REGION" \
          --to-revisions="$split" --quiet || failed=1
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
