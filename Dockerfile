# Parley: a Claude Messages API server. Not built on the machines Parley is developed on (no
# Docker engine there); test/container.test.ts runs the same install and start commands instead.

# Build stage: production dependencies only (better-sqlite3 and node-llama-cpp ship prebuilt
# binaries for linux-x64/arm64 glibc, so no compiler is needed).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY src ./src
COPY console/dist ./console/dist

# Run stage: the same slim base, the app and its node_modules, as an unprivileged user.
FROM node:24-slim
ENV NODE_ENV=production \
    PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=8787 \
    PARLEY_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/src ./src
COPY --from=build /app/console/dist ./console/dist
COPY package.json ./
RUN groupadd --system parley && useradd --system --gid parley --home-dir /data parley \
    && mkdir -p /data && chown parley:parley /data
USER parley
VOLUME ["/data"]
EXPOSE 8787
# slim has no curl: node itself asks /health (exit 0 on 200, 1 otherwise or after 4 s).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PARLEY_PORT||8787)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "src/cli/main.ts", "serve", "--host", "0.0.0.0"]
