# shellcheck shell=bash
# Shared by install.sh and stack.sh: the PULSE_* defaults (the same ones streams/settings.py
# uses), the paths derived from them, and one-line messages. Sourced, never executed.

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$DEPLOY_DIR/../.." && pwd -P)"

# The default state directory lives outside the checkout, under /var/tmp, one per checkout (the
# first 12 hex digits of the SHA-256 of its path): PostgreSQL runs as the postgres user, which
# cannot reach a data directory inside a clone in a 0700 home (root's). streams/settings.py
# computes the same path; tests/unit/test_state_dir.py checks that the two agree.
PULSE_STATE_BASE=/var/tmp/outcome-pulse
PULSE_DEFAULT_STATE_ROOT="$PULSE_STATE_BASE/$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
PULSE_STATE_DIR="${PULSE_STATE_DIR:-$PULSE_DEFAULT_STATE_ROOT/stack}"
PULSE_CACHE_DIR="${PULSE_CACHE_DIR:-$HOME/.cache/outcome-pulse}"
PULSE_KAFKA_VERSION="${PULSE_KAFKA_VERSION:-3.9.1}"
PULSE_KAFKA_PORT="${PULSE_KAFKA_PORT:-19092}"
PULSE_KAFKA_CONTROLLER_PORT="${PULSE_KAFKA_CONTROLLER_PORT:-19093}"
PULSE_PG_PORT="${PULSE_PG_PORT:-15432}"
PULSE_PG_DATABASE="${PULSE_PG_DATABASE:-pulse}"
PULSE_ALERTMANAGER_PORT="${PULSE_ALERTMANAGER_PORT:-19095}"
PULSE_PROMETHEUS_PORT="${PULSE_PROMETHEUS_PORT:-19090}"
PULSE_METRICS_PORT="${PULSE_METRICS_PORT:-9464}"

# Debian's postgresql-15 puts its server binaries here, outside PATH.
PG_BIN=/usr/lib/postgresql/15/bin

KAFKA_HOME="$PULSE_CACHE_DIR/kafka-$PULSE_KAFKA_VERSION"
# shellcheck disable=SC2034 # used by stack.sh
KAFKA_LIBS="$KAFKA_HOME/libs"
# Written only after `mvn dependency:copy-dependencies` succeeded, so an interrupted download
# is retried instead of leaving a broker that fails on a missing class.
KAFKA_JARS_MARKER="$KAFKA_HOME/.complete"

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }

# die CODE MESSAGE: the one line the user sees when we stop.
die() {
  local code="$1"
  shift
  warn "error: $*"
  exit "$code"
}

# An unexpected failure under `set -e` would otherwise end the script without a word.
on_unexpected_error() {
  local code="$1" line="$2" cmd="$3"
  warn "error: $(basename "$0") line $line failed (exit $code): $cmd"
  exit 1
}

kafka_jars_present() { [[ -f "$KAFKA_JARS_MARKER" ]]; }

pg_binaries_present() {
  local tool
  for tool in initdb pg_ctl pg_isready psql; do
    [[ -x "$PG_BIN/$tool" ]] || return 1
  done
}
