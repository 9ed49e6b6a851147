# syntax=docker/dockerfile:1
# One image per Retrain service, from one Dockerfile:
#   docker build --build-arg SERVICE=trainer -t retrain/trainer .
# SERVICE names a folder under services/: ingestion, trainer, scoring, evaluator, classic-promoter,
# new-promoter, registry, notifier, or embedded (every service in one process).
# The build stage compiles the service and writes a pruned production copy of it (`pnpm deploy --prod`:
# its dist/ and only its runtime dependencies, workspace packages included); the runtime stage is that
# copy on a slim Node image, run as a non-root user, node as PID 1 (exec form) so SIGTERM reaches the
# service's two-phase shutdown directly.
ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=12.4.2
RUN npm install -g "pnpm@${PNPM_VERSION}" >/dev/null 2>&1
WORKDIR /src
# The lockfile alone fills pnpm's store, so this layer is reused until a dependency changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=retrain-pnpm-store,target=/root/.local/share/pnpm/store pnpm fetch
COPY . .
RUN --mount=type=cache,id=retrain-pnpm-store,target=/root/.local/share/pnpm/store pnpm install --frozen-lockfile --offline --reporter=silent
ARG SERVICE
RUN if [ -z "$SERVICE" ] || [ ! -f "services/$SERVICE/package.json" ]; then \
      echo "build with --build-arg SERVICE=<one of: $(ls services | tr '\n' ' ')>" >&2; exit 1; \
    fi
# tsc -b builds the service and the workspace packages it references, nothing else.
RUN pnpm exec tsc -b "services/$SERVICE"
# pnpm 12 deploys a workspace package with its workspace dependencies injected (copied, not linked);
# the same command is run by test/deploy/image.test.ts, which starts the service from its output.
RUN --mount=type=cache,id=retrain-pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm --filter "@retrain/$SERVICE" deploy --prod /out \
 && find /out -path '*/dist/*' \( -name '*.test.js' -o -name '*.test.d.ts' -o -name '*.test.js.map' -o -name '*.test.d.ts.map' \) -delete

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
# Services listen on 127.0.0.1 unless told otherwise; in a container they must listen on every
# interface (each service reads only its own variable).
ENV NODE_ENV=production \
    RETRAIN_SERVICE=${SERVICE} \
    INGESTION_HOST=0.0.0.0 \
    TRAINER_HOST=0.0.0.0 \
    SCORING_HOST=0.0.0.0 \
    EVALUATOR_HOST=0.0.0.0 \
    CLASSIC_PROMOTER_HOST=0.0.0.0 \
    NEW_PROMOTER_HOST=0.0.0.0 \
    REGISTRY_HOST=0.0.0.0 \
    NOTIFIER_HOST=0.0.0.0 \
    RETRAIN_HOST=0.0.0.0 \
    RETRAIN_DATA_DIR=/data \
    SCORING_DATA_DIR=/data/scoring \
    BLOB_ROOT=/data/blobs
WORKDIR /app
# The code belongs to root and is read-only to the service; only /data is writable (the embedded
# default's store, a generated scoring KEK). The node image's "node" user is uid/gid 1000; the numeric
# form lets Kubernetes verify runAsNonRoot.
COPY --from=build /out /app
COPY deploy/docker/healthcheck.mjs /app/healthcheck.mjs
RUN mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
EXPOSE 8080 8081 8082 8083 8084 8085 8086 8087
# No curl in a slim image: node itself asks /healthz on the service's own port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs", "/healthz"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
