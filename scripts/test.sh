#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing (Debian packages, Kafka jars,
# the Python environment), starts a private stack (Kafka + PostgreSQL on test ports, state under
# .state/test), runs the static checks and every test, and stops exactly what it started.
#
#   scripts/test.sh                 everything: tests/unit in parallel (-n 2) while the stack starts,
#                                   then the other tests in parallel (-n 2) except those marked
#                                   `exclusive`, then those alone
#   scripts/test.sh tests/unit      any pytest arguments narrow it (one serial run; add -n 2 to
#                                   parallelise; -m "not exclusive" keeps out the restarts)
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

step() { printf '\n== %s  [%s UTC]\n' "$*" "$(date -u +%H:%M:%S)"; }

step "system packages and Kafka jars"
bash deploy/local/install.sh

step "python environment (.venv)"
bash scripts/venv.sh

step "static checks: ruff, mypy, import-linter"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
PYTHONPATH=.venv/typecheck .venv/bin/lint-imports

workers="${PULSE_TEST_WORKERS:-2}"
stack_log="$PULSE_STATE_DIR/logs/stack-up.log"
stack_pid=""
# References one pytest process computes and the others of this run read (tests/e2e/conftest.py).
PULSE_TEST_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pulse-test-run.XXXXXX")"
export PULSE_TEST_RUN_DIR
stop_stack() {
  # The background `up` may still be running: wait for it, then stop what it started.
  if [ -n "$stack_pid" ]; then wait "$stack_pid" 2>/dev/null || true; fi
  step "stopping the test stack"
  bash deploy/local/stack.sh down || true
  rm -rf "$PULSE_TEST_RUN_DIR"
}
start_stack() {
  step "test stack on 127.0.0.1 (kafka :$PULSE_KAFKA_PORT, postgres :$PULSE_PG_PORT, alertmanager :$PULSE_ALERTMANAGER_PORT, prometheus :$PULSE_PROMETHEUS_PORT)"
  trap stop_stack EXIT
  mkdir -p "$(dirname "$stack_log")"
  if [ "${1:-}" = background ]; then
    # Started beside the unit tests (pure: no port, no file of the stack), so its start-up costs
    # no wall time; waited for, and its exit code checked, before the first stack test.
    bash deploy/local/stack.sh up >"$stack_log" 2>&1 &
    stack_pid=$!
    echo "starting in the background (pid $stack_pid, log $stack_log)"
  else
    bash deploy/local/stack.sh up
  fi
}
stack_ready() {
  [ -n "$stack_pid" ] || return 0
  local up_rc=0
  wait "$stack_pid" || up_rc=$?
  stack_pid=""
  step "test stack start-up (exit $up_rc)"
  cat "$stack_log"
  if [ "$up_rc" -ne 0 ]; then
    echo "the test stack did not start (exit $up_rc); no stack test ran" >&2
    exit "$up_rc"
  fi
}

# With arguments: one serial run of exactly those, on the stack.
if [ "$#" -ne 0 ]; then
  start_stack
  step "pytest: $*"
  exec_rc=0
  .venv/bin/pytest -p no:cacheprovider "$@" || exec_rc=$?
  exit "$exec_rc"
fi

# With no arguments, three runs, which always all happen (the script fails if one did):
#  1. tests/unit in parallel (pytest-xdist, $workers processes; they share no port or file),
#     while the stack starts in the background;
#  2. every other test not marked `exclusive` (integration, e2e, golden) in parallel on the one
#     stack: each works in sandboxes of its own (tests/support/sandbox.py: topics, consumer group,
#     database, metrics port), so two at once do not see each other;
#  3. the `exclusive` tests (they restart or stop a shared service: tests/support/exclusive.py,
#     which also makes collection fail for such a test without the marker) alone, serially.
# --dist loadfile for both: a module's fixtures (often a replay of a whole log) run once, in the
# process that runs the module. For the unit tests it was balanced already (in this session's CI
# run the two processes ended 2 minutes apart after 27), so spreading one file's cases over both
# processes (worksteal) would only run such fixtures twice.
start_stack background
step "pytest: unit tests (-n $workers --dist loadfile)"
unit_rc=0
.venv/bin/pytest -p no:cacheprovider -n "$workers" --dist loadfile tests/unit || unit_rc=$?

stack_ready
step "pytest: stack tests not marked exclusive (-n $workers --dist loadfile)"
parallel_rc=0
.venv/bin/pytest -p no:cacheprovider -n "$workers" --dist loadfile -m "not exclusive" \
  --ignore=tests/unit tests || parallel_rc=$?

step "pytest: exclusive stack tests, alone"
exclusive_rc=0
.venv/bin/pytest -p no:cacheprovider -m exclusive --ignore=tests/unit tests || exclusive_rc=$?

for phase in "unit:$unit_rc" "parallel stack:$parallel_rc" "exclusive stack:$exclusive_rc"; do
  if [ "${phase##*:}" -ne 0 ]; then
    echo "the ${phase%:*} tests failed (exit ${phase##*:}); see above" >&2
  fi
done
for rc in "$unit_rc" "$parallel_rc" "$exclusive_rc"; do
  if [ "$rc" -ne 0 ]; then exit "$rc"; fi
done
exit 0
