# One recipe for every service image, built from the repository root:
#   docker build --build-arg SERVICE=gateway --target service -t gateway .
#   docker build --build-arg SERVICE=render --target media-service -t render .
# render, qa and delivery run ffmpeg, draw text with the DejaVu fonts and speak voice-overs with
# espeak-ng, and the planner probes the client's music and measures the voice-over lines it writes
# (target media-service); the gateway needs neither (target service). cloudbuild.yaml builds all five.
#
# Base image: node:24-bookworm-slim pinned by digest so a rebuild gets the same Node and Debian.
# The digest is the one several public repositories pin for node:24-bookworm-slim (Node 24.18.0),
# e.g. cyanxxy/open-ocr-cli-mcp's Dockerfile; it was not pulled from Docker Hub here (no engine).
# To refresh it: `docker buildx imagetools inspect node:24-bookworm-slim` (or
# `crane digest node:24-bookworm-slim`) prints the current index digest; replace it in every FROM
# below and in build/ci/Dockerfile, and let test/deploy check the pins.

FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS build
ENV PNPM_HOME=/pnpm CI=true
ENV PATH=$PNPM_HOME:$PATH
RUN npm install -g pnpm@10.34.9
WORKDIR /src
# Dependencies first, so these layers stay cached until a dependency changes, whatever the
# sources do: `pnpm fetch` needs only the lockfile; the install needs every workspace manifest
# (test/deploy/dockerfiles.test.ts checks that each one is copied here).
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY package.json ./
COPY packages/config/package.json packages/config/
COPY packages/contracts/package.json packages/contracts/
COPY packages/emulators/package.json packages/emulators/
COPY packages/google-ai/package.json packages/google-ai/
COPY packages/job-store/package.json packages/job-store/
COPY packages/media/package.json packages/media/
COPY packages/observability/package.json packages/observability/
COPY packages/planning/package.json packages/planning/
COPY packages/pubsub/package.json packages/pubsub/
COPY packages/client/package.json packages/client/
COPY packages/clip-checks/package.json packages/clip-checks/
COPY packages/service-runtime/package.json packages/service-runtime/
COPY packages/speech/package.json packages/speech/
COPY packages/storage/package.json packages/storage/
COPY packages/testing/package.json packages/testing/
COPY packages/vendor-catalogue/package.json packages/vendor-catalogue/
COPY packages/webhooks/package.json packages/webhooks/
COPY services/delivery/package.json services/delivery/
COPY services/gateway/package.json services/gateway/
COPY services/planner/package.json services/planner/
COPY services/qa/package.json services/qa/
COPY services/render/package.json services/render/
COPY infra/local/package.json infra/local/
# --ignore-scripts: the root devDependency `node` (Node 24 for hosts without it) installs its
# runtime with `npm install` from its install script, which fails offline with an empty npm
# cache; the image already is Node 24. No other dependency needs its script to build (swc ships
# its binary as a package; protobufjs's script only checks versions).
RUN pnpm install --offline --frozen-lockfile --ignore-scripts
COPY . .
RUN pnpm build

# The same script `npm test` runs (test/deploy/bundle.test.ts) makes the service's folder.
FROM build AS bundle
ARG SERVICE
RUN test -n "$SERVICE" && bash scripts/bundle-service.sh "$SERVICE" /out

FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS media-service
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core espeak-ng \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=bundle --chown=root:root /out /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
# Read-only code, owned by root; the service runs as the image's unprivileged node user and
# writes only to its scratch directory (WORK_DIR, the OS temp dir by default).
USER node
# Exec form: node is PID 1 and gets Cloud Run's SIGTERM itself; every service handles it
# (exitOnSignals in packages/service-runtime: drain, hand leases back, exit 0 within 9 s).
CMD ["node", "dist/main.js"]

FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS service
WORKDIR /app
COPY --from=bundle --chown=root:root /out /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
USER node
CMD ["node", "dist/main.js"]
