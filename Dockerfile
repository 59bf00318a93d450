# syntax=docker/dockerfile:1
# The service image: one image, three roles (api, projector, all-in-one), chosen by the command.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; chdb (embedded ClickHouse) is large but needed for the one-machine role.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system notai && useradd --system --gid notai --home /app notai
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY schemas ./schemas
COPY projections ./projections
COPY api ./api
COPY services ./services
COPY provision ./provision
USER notai
EXPOSE 8080 9464
# tsx runs the TypeScript sources directly: no build step to drift from the code under test.
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["services/api.ts"]
