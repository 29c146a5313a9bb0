# The server image: `docker compose up` (see docker-compose.yml) runs it against PostgreSQL.
FROM node:20-slim

WORKDIR /app

# Dependencies first, so that a source change does not reinstall them. (NODE_ENV stays unset here: with
# NODE_ENV=production `npm ci` would skip devDependencies.)
COPY package.json package-lock.json ./
RUN npm ci && npm cache clean --force

COPY . .
# The bundle the server runs from (scripts/build.mjs): one module to load instead of hundreds, for a fast start.
RUN npm run build
# ./data is only used when DATABASE_URL is unset (the embedded PGlite database); the server runs as `node`.
RUN mkdir -p data && chown node:node data

USER node
ENV HOST=0.0.0.0 \
    PORT=3030 \
    WS_PORT=8800
EXPOSE 3030 8800

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3030) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself, not npm: SIGTERM must reach the server for its graceful shutdown (README "Operating").
CMD ["node", "dist/server.mjs"]
