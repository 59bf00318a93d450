# syntax=docker/dockerfile:1
# The service image: one image, three roles (api, projector, migrate), chosen by the command.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; chdb (embedded ClickHouse) is large but needed for CLICKHOUSE_DRIVER=embedded.
RUN npm ci --omit=dev --no-audit --no-fund

# The services run as plain JavaScript bundles (scripts/build.mjs): a TypeScript loader costs
# every process about 30 MB of memory. Bundling only transpiles; the tests check the sources.
FROM deps AS build
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY schemas ./schemas
COPY projections ./projections
COPY api ./api
COPY services ./services
COPY provision ./provision
COPY bench ./bench
RUN node scripts/build.mjs

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# glibc raises its mmap threshold each time a large block is freed, after which Kafka's
# megabyte fetch buffers come from the heap and fragment it: a 1M-event rebuild peaked at
# 255 MB of RSS with the default, 223 MB with the threshold fixed at 128 KiB. npm run sets the same.
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
RUN groupadd --system notai && useradd --system --gid notai --home /app notai
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY --from=build /app/dist/services ./dist/services
# The sources too: source maps point stack traces at them, and the simulator runs through tsx.
COPY schemas ./schemas
COPY projections ./projections
COPY api ./api
COPY services ./services
COPY provision ./provision
USER notai
EXPOSE 8080 9464
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/services/api.js"]
