# One image recipe for every service, built from the repository root:
#   docker build --build-arg SERVICE=render --build-arg APT_PACKAGES="ffmpeg fonts-dejavu-core" -t aiprod-render .
# render, qa and delivery need ffmpeg and the DejaVu fonts; gateway and planner need nothing extra.
FROM node:20-bookworm-slim AS build
ARG SERVICE
WORKDIR /app
RUN npm install -g pnpm@10
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build && pnpm deploy --filter "@aiprod/service-${SERVICE}" --prod --legacy /out

FROM node:20-bookworm-slim
ARG APT_PACKAGES=""
RUN if [ -n "$APT_PACKAGES" ]; then apt-get update && apt-get install -y --no-install-recommends $APT_PACKAGES && rm -rf /var/lib/apt/lists/*; fi
WORKDIR /app
COPY --from=build /out /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
USER node
CMD ["node", "dist/main.js"]
