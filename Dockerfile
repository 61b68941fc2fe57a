# syntax=docker/dockerfile:1.7
# RAG retrieval service: one image for the API (default command) and the ingestion worker.
#
#   docker build -t rag-service .                                   # models mounted at run time (/models)
#   docker build -t rag-service --target api-with-models \
#     --build-context models="$HOME/.cache/rag-service/models" .    # models baked into the image
#
# Models are never downloaded at build or run time: export them first with `npm run models:export`.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: compile TypeScript, copy non-code assets (prompt templates) next to the JS -------------------------
FROM ${NODE_IMAGE} AS build
# npm 10 (Node 20's) ignores package.json's allowScripts: without this onnxruntime-node downloads CUDA libraries.
ENV ONNXRUNTIME_NODE_INSTALL_CUDA=skip
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` honouring the lock, as .ci/run does: the lock lacks LanceDB's other-platform binaries, which `npm ci` requires.
RUN --mount=type=cache,target=/root/.npm npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && cd src && find . -type f ! -name '*.ts' -exec cp --parents {} ../dist/ \;

# --- deps: production dependencies only (native addons: onnxruntime-node, lancedb, sharp; glibc, hence bookworm) -
FROM ${NODE_IMAGE} AS deps
ENV ONNXRUNTIME_NODE_INSTALL_CUDA=skip
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- api: the runtime image, non-root ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS api
# glibc gives each of LanceDB's and ONNX Runtime's many threads its own malloc arena, and freed memory stays in
# them: storing 37.5k chunks grew RSS by ~490 MB with the default and ~240 MB with 2 arenas, at the same write speed.
ENV MALLOC_ARENA_MAX=2 \
    NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    MODELS_DIR=/models \
    MODELS_OFFLINE=true
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# Code is root-owned and read-only for the service user; only /data and /uploads (volumes) belong to it.
RUN mkdir -p /data /uploads /models && chown node:node /data /uploads /models
USER node
VOLUME ["/data"]
EXPOSE 8080
# Liveness only: readiness (models, store, Redis) is GET /readyz, used by docker-compose and orchestrators.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# Without API_KEYS the service refuses HOST=0.0.0.0 unless ALLOW_OPEN_ACCESS=true (see docs/operations.md).
CMD ["node", "dist/serve/main.js"]

# --- api-with-models: the same, with the exported models baked in (named build context "models") -----------------
FROM api AS api-with-models
COPY --from=models --chown=root:root . /models

# --- default target: the api image without models (`docker build .`) ---------------------------------------------
FROM api
