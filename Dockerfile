# Portcullis: one stateless process; run several behind a TLS proxy with PostgreSQL and Redis.
# Stage 1 compiles the TypeScript; the image runs plain JavaScript (less memory, faster start
# than running the sources through tsx) and carries no compiler and no src/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/ scripts/
COPY migrations/ migrations/
COPY src/ src/
RUN npm run build

FROM node:20-bookworm-slim

# MALLOC_MMAP_THRESHOLD_, --heap-growing-percent and --max-semi-space-size: memory settings, see src/runtime-memory.ts.
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data \
    MALLOC_MMAP_THRESHOLD_=131072

WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY bin/ bin/
COPY config/ config/
COPY views/ views/
COPY --from=build /app/build/ build/

# The code stays root-owned and read-only to the service user; only DATA_DIR is writable.
RUN mkdir -p "$DATA_DIR" && chown node:node "$DATA_DIR"
USER node

EXPOSE 3000

# node:*-slim has no curl: ask /healthz with node's own fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself, so in-flight requests drain.
CMD ["node", "--heap-growing-percent=30", "--max-semi-space-size=8", "build/src/main.js"]
