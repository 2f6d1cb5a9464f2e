#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing (Debian packages, Kafka jars,
# the Python environment), starts a private stack (Kafka + PostgreSQL on test ports, state under
# .state/test), runs the static checks and every test, and stops exactly what it started.
#
#   scripts/test.sh                 everything: tests/unit in parallel (-n 2), then the rest serially
#   scripts/test.sh tests/unit      any pytest arguments narrow it (one serial run; add -n 2 to
#                                   parallelise pure unit tests)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$repo"

# Outside the checkout by default, like the stack's (see deploy/local/common.sh): PostgreSQL's
# user must reach its data directory even when the clone is in a 0700 home.
state_root="/var/tmp/outcome-pulse/$(printf '%s' "$repo" | sha256sum | cut -c1-12)"
export PULSE_STATE_DIR="${PULSE_STATE_DIR:-$state_root/test}"
# Below Linux's ephemeral range (32768-60999): the fault tests stop Kafka and PostgreSQL while
# the worker keeps reconnecting, and a connect to a free port of that range can be given that
# same port as its source and connect to itself (TCP simultaneous open), holding the port; the
# restarted broker then failed with "Address already in use" (seen in CI with 39092).
export PULSE_KAFKA_PORT="${PULSE_KAFKA_PORT:-29092}"
export PULSE_KAFKA_CONTROLLER_PORT="${PULSE_KAFKA_CONTROLLER_PORT:-29093}"
export PULSE_PG_PORT="${PULSE_PG_PORT:-25432}"
export PULSE_METRICS_PORT="${PULSE_METRICS_PORT:-29464}"
export PULSE_ALERTMANAGER_PORT="${PULSE_ALERTMANAGER_PORT:-29095}"
export PULSE_PROMETHEUS_PORT="${PULSE_PROMETHEUS_PORT:-29090}"

step() { printf '\n== %s\n' "$*"; }

step "system packages and Kafka jars"
bash deploy/local/install.sh

step "python environment (.venv)"
bash scripts/venv.sh

step "static checks: ruff, mypy, import-linter"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
PYTHONPATH=.venv/typecheck .venv/bin/lint-imports

# With no arguments: the pure unit tests first, in parallel (pytest-xdist, PULSE_TEST_WORKERS
# processes, 2 by default: they share no port or file), before the stack is up; then everything
# else (integration, e2e, golden: one shared stack) in one serial run. Both runs always happen;
# the script fails if either did. With arguments: one serial run of exactly those.
unit_rc=0
if [ "$#" -eq 0 ]; then
  step "pytest: unit tests (-n ${PULSE_TEST_WORKERS:-2})"
  .venv/bin/pytest -p no:cacheprovider -n "${PULSE_TEST_WORKERS:-2}" --dist loadfile tests/unit || unit_rc=$?
  set -- --ignore=tests/unit tests
fi

step "test stack on 127.0.0.1 (kafka :$PULSE_KAFKA_PORT, postgres :$PULSE_PG_PORT, alertmanager :$PULSE_ALERTMANAGER_PORT, prometheus :$PULSE_PROMETHEUS_PORT)"
bash deploy/local/stack.sh up
trap 'step "stopping the test stack"; bash deploy/local/stack.sh down || true' EXIT

step "pytest: $*"
rc=0
.venv/bin/pytest -p no:cacheprovider "$@" || rc=$?
if [ "$unit_rc" -ne 0 ]; then
  echo "the unit tests failed (exit $unit_rc); see above" >&2
  exit "$unit_rc"
fi
exit "$rc"
