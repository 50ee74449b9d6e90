# syntax=docker/dockerfile:1
#
# ac-list-sync image: `docker build -t ac-list-sync .`
#
# Two stages. `build` installs every dependency and compiles the TypeScript; `runtime` installs production
# dependencies only and takes the compiled JavaScript from `build`. Node is an LTS line (24); pass
# --build-arg NODE_IMAGE=node:26-alpine (or a digest-pinned image) to move to another LTS.
#
# Running it:
#   - as a non-root user (uid/gid 1000, numeric so Kubernetes' runAsNonRoot can verify it);
#   - with a read-only root filesystem: the process writes nothing but /tmp (declared as a volume below; give it
#     a tmpfs or an emptyDir);
#   - with node as PID 1: the exec-form ENTRYPOINT starts node directly (no shell in between), and the `run`
#     command installs its own SIGTERM/SIGINT handlers, so `docker stop` and Kubernetes get a graceful drain
#     (flush, confirm, commit) within shutdown.deadlineMs. Keep the stop grace period above that deadline.
#
# The same image runs every command: `run --config FILE` (default), `check-config`, `simulator`, `produce-sample`.

ARG NODE_IMAGE=node:24-alpine

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The simulator is a workspace package (packages/ac-simulator): npm ci checks its package.json against the lock.
COPY packages/ac-simulator/package.json ./packages/ac-simulator/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY packages/ac-simulator/src ./packages/ac-simulator/src
RUN npx tsc -p .

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/ac-simulator/package.json ./packages/ac-simulator/package.json
# Production dependencies only; then npm itself goes (nothing runs it at runtime, and it is a frequent CVE source).
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn* /usr/local/bin/yarn /usr/local/bin/yarnpkg /root/.npm
# The event contract (JSON Schema, Avro, dead-letter headers) travels with the image for reference.
COPY schemas ./schemas
COPY --from=build /app/dist/src ./dist/src
# The `simulator` and `demo` commands run the simulator, compiled by the same tsc beside the service.
COPY --from=build /app/dist/packages/ac-simulator/src ./dist/packages/ac-simulator/src
USER 1000:1000
VOLUME ["/tmp"]
# 9464: /metrics, /healthz, /readyz of the sync (http.port); 8080: the simulator when the image runs it.
EXPOSE 9464 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/index.js"]
CMD ["run", "--config", "/etc/ac-list-sync/config.json"]
