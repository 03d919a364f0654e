# syntax=docker/dockerfile:1
# One image, three roles: `npm start` (all-in-one), `npm run start:api`, `npm run start:worker`,
# plus `npm run migrate` (one-shot) and `npm run simulator`.

ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
COPY bench ./bench
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# A young generation of 64 MB: stream workers allocate ~20 MB/s of objects that live ~100 ms
# (one per media packet); with V8's default they survive scavenges, which then pause the
# event loop often enough to push live delivery's p99 past 250 ms (docs/performance.md).
ENV NODE_OPTIONS=--max-semi-space-size=64
WORKDIR /app
# ffmpeg (Debian's package: libx264, AAC, libopus) composes recordings (docs/recordings.md).
# Nothing downloads a binary at install time; FFMPEG_PATH points at another ffmpeg.
RUN apt-get update && apt-get install -y --no-install-recommends tini ffmpeg \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /app/recordings /app/spool && chown node:node /app/recordings /app/spool
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 3000
# tini forwards SIGTERM so workers drain and hand their streams back before exit.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
