#!/usr/bin/env bash
# Install TypeScript and Grafana's dashboard types (@grafana/schema, the Grafana 11.6 line the
# generator targets) into a cache outside the repository, once; print the folder.
#   scripts/grafana_types.sh      -> <cache>/grafana-types-<versions>
set -euo pipefail
TYPESCRIPT_VERSION=5.9.3
SCHEMA_VERSION=11.6.16
cache="${PULSE_CACHE_DIR:-$HOME/.cache/outcome-pulse}/grafana-types-ts${TYPESCRIPT_VERSION}-schema${SCHEMA_VERSION}"
if [ ! -x "$cache/node_modules/.bin/tsc" ] || [ ! -d "$cache/node_modules/@grafana/schema" ]; then
  mkdir -p "$cache"
  printf '{"private": true}\n' > "$cache/package.json"
  npm install --prefix "$cache" --no-audit --no-fund --silent \
    "typescript@$TYPESCRIPT_VERSION" "@grafana/schema@$SCHEMA_VERSION" >&2
fi
printf '%s\n' "$cache"
