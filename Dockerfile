# One image for every Baton component; the command picks which (see compose.yaml, docs/production.md).
# Not built in CI: no container registry is reachable from the machines that test Baton, so this file
# is reviewed, not exercised. Everything it runs is tested with `npm test`.
FROM node:24-slim

WORKDIR /app
# The lockfile decides every version; dev tools (the pinned Node, TypeScript, Biome) are not needed,
# Node 24 runs the TypeScript sources directly. The optional pkcs11js (PKCS#11 key stores) compiles
# only with build tools present; add `apt-get install python3 make g++` above if you use an HSM.
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force \
  && mkdir -p /var/lib/baton \
  && chown node:node /var/lib/baton \
  && chmod 0700 /var/lib/baton

# Every @baton/* import resolves to its sources, as in `npm start` (the .npmrc does this for npm scripts).
ENV NODE_ENV=production \
  NODE_OPTIONS=--conditions=@baton/source \
  BATON_DATA_DIR=/var/lib/baton \
  BATON_BROKER_STORE=/var/lib/baton/broker

# The node image's unprivileged user; the data directory (vault key, audit outbox, key files, a broker's
# embedded store: BATON_BROKER_STORE) is its own. /app is not writable by it.
USER node
VOLUME ["/var/lib/baton"]

# `node` as PID 1 gets SIGTERM from `docker stop`: every component drains, flushes its audit and exits.
# Other components by command, e.g.:
#   node packages/broker/src/cli.ts --config /etc/baton/broker.json
#   node packages/cli/src/main.ts console --postgres postgres://… --issuer … (the audit console)
CMD ["node", "examples/demo/src/main.ts"]
