#!/usr/bin/env bash
# The server options of every PostgreSQL this project starts: the local stack (stack.sh) and the
# private servers of the tests (tests/integration/pgdb.py). One place, so that a test server is
# the same kind of server as the stack's: listening on 127.0.0.1 only, and with TimescaleDB's
# library preloaded whenever the extension is installed (CREATE EXTENSION fails without it).
#
# Usage: pg-server-options.sh PORT SOCKET_DIR [PG_CONFIG]
# Prints one line for `pg_ctl -o`, which runs it through `sh -c` (hence the quoted socket dir).
set -euo pipefail
(($# >= 2 && $# <= 3)) || {
  printf 'usage: %s PORT SOCKET_DIR [PG_CONFIG]\n' "$(basename "$0")" >&2
  exit 2
}
port="$1" socket_dir="$2" pg_config="${3:-/usr/lib/postgresql/15/bin/pg_config}"
[[ "$port" =~ ^[0-9]+$ ]] || {
  printf 'error: %s is not a port number\n' "$port" >&2
  exit 2
}
[[ "$socket_dir" != *"'"* ]] || {
  printf 'error: the socket directory must not contain a single quote: %s\n' "$socket_dir" >&2
  exit 2
}
opts="-p $port -k '$socket_dir' -c listen_addresses=127.0.0.1"
if [[ -x "$pg_config" ]] && compgen -G "$("$pg_config" --pkglibdir)/timescaledb*.so" >/dev/null; then
  opts+=" -c shared_preload_libraries=timescaledb"
fi
printf '%s\n' "$opts"
