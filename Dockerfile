# syntax=docker/dockerfile:1
# pcpflow worker image: built from this repository, run as a non-root user with production
# dependencies only. Stages: deps (production node_modules), build (npm ci + npm run build),
# runtime (slim Node 20, no npm cache, no sources, no dev dependencies).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npx tsx scripts/build.ts

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="pcpflow" \
      org.opencontainers.image.description="Keeps Pgpool-II in step with EDB Failover Manager: hooks, Redis, state machines, audited PCP actions" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="pcpflow"
ENV NODE_ENV=production \
    PCPFLOW_CONFIG=/etc/pcpflow/pcpflow.yaml \
    PCPFLOW_HTTP_PORT=9464
WORKDIR /usr/lib/pcpflow
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/bin ./bin
COPY --from=build /src/build ./build
COPY --from=build /src/audit/lua ./audit/lua
COPY --from=build /src/workers/lua ./workers/lua
# A fixed uid/gid so the passfile secret can be given to it (compose: uid/gid 10001, mode 0400).
RUN groupadd --system --gid 10001 pcpflow \
 && useradd --system --uid 10001 --gid pcpflow --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin pcpflow \
 && install -d -m 2770 -o pcpflow -g pcpflow /var/spool/pcpflow \
 && ln -s /usr/lib/pcpflow/bin/pcpflow.js /usr/local/bin/pcpflow \
 && ln -s /usr/lib/pcpflow/bin/pcpflow-hook.cjs /usr/local/bin/pcpflow-hook
USER pcpflow:pcpflow
EXPOSE 9464
# /readyz answers 200 once the fleet member has Redis and its roles running.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PCPFLOW_HTTP_PORT || 9464) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/usr/lib/pcpflow/bin/pcpflow.js"]
CMD ["worker"]
