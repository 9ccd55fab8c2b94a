# The image of the `worker` service in docker-compose.yml. Its dependencies are installed here, for
# the image's own platform (sharp ships a native binary per platform): the host's node_modules is
# never used. Build: docker compose build (or docker build -t respool-worker .).
FROM node:20-bookworm-slim

WORKDIR /opt/respool
# Dependencies first, so that a change to the sources does not install them again. Scripts are run
# later: `prepare` builds, and the sources are not here yet.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY prices ./prices
COPY spec ./spec
RUN npm run build && npm prune --omit=dev && rm -rf src

# Exec form: node is the process that gets `docker stop`'s SIGTERM, and finishes calls in flight.
ENTRYPOINT ["node", "/opt/respool/bin/respool.js"]
CMD ["worker", "--concurrency", "32"]
