#!/usr/bin/env bash
# Installs what the local stack needs and nothing that is already there:
#   Debian packages  postgresql-15, postgresql-client-15, kcat, prometheus (promtool),
#                    prometheus-alertmanager (amtool), chromium (evidence reports: PDF and
#                    screenshot tests), docker-compose (validates deploy/compose), a Java
#                    runtime and Maven when missing;
#   Kafka jars       org.apache.kafka:kafka_2.13:$PULSE_KAFKA_VERSION and its runtime closure,
#                    copied from Maven Central into $PULSE_CACHE_DIR (outside the repository).
# Prints one line per thing it installs; apt and mvn output goes to $PULSE_CACHE_DIR/install.log.
# Exit codes: 0 done, 1 an install step failed, 2 it needs root.
set -euo pipefail
set -E
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
trap 'on_unexpected_error $? $LINENO "$BASH_COMMAND"' ERR

INSTALL_LOG="$PULSE_CACHE_DIR/install.log"
# Packages the local stack and the checks use; Java and Maven are added only when their
# commands are missing, so an existing JDK of another vendor or version is kept.
DEBIAN_PACKAGES=(postgresql-15 postgresql-client-15 kcat prometheus prometheus-alertmanager chromium
  docker-compose curl)
TEMP_POLICY_RC=""

# The status field of `dpkg -s`; a removed package whose config files remain is not installed.
deb_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing_debian_packages() {
  local pkg
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    deb_installed "$pkg" || printf '%s\n' "$pkg"
  done
  command -v java >/dev/null 2>&1 || printf '%s\n' openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || printf '%s\n' maven
  # npm installs Grafana's TypeScript types for the dashboard check (scripts/grafana_types.sh)
  command -v npm >/dev/null 2>&1 || printf '%s\n' nodejs npm
}

# run_logged DESCRIPTION CMD...: full output to the install log; on failure one line + its tail.
run_logged() {
  local what="$1"
  shift
  printf '\n=== %s: %s\n' "$(date -Is)" "$*" >>"$INSTALL_LOG"
  if ! "$@" >>"$INSTALL_LOG" 2>&1; then
    warn "error: $what failed; details in $INSTALL_LOG"
    tail -n 20 "$INSTALL_LOG" >&2
    exit 1
  fi
}

# Package maintainer scripts start services: prometheus would listen on 0.0.0.0:9090,
# alertmanager on :9093, and postgresql-15 would start its own "main" cluster on 5432.
# A policy-rc.d that answers 101 ("action forbidden") stops that during our install only.
forbid_service_starts() {
  [[ -e /usr/sbin/policy-rc.d ]] && return 0 # an image-wide policy is already in place
  TEMP_POLICY_RC=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\n# temporary, from outcome-pulse install.sh\nexit 101\n' >"$TEMP_POLICY_RC"
  chmod 0755 "$TEMP_POLICY_RC"
}

cleanup() {
  if [[ -n "$TEMP_POLICY_RC" ]]; then
    rm -f "$TEMP_POLICY_RC"
  fi
}

install_debian_packages() {
  local -a missing
  mapfile -t missing < <(missing_debian_packages)
  ((${#missing[@]} > 0)) || return 0
  if ((EUID != 0)); then
    die 2 "missing Debian packages (${missing[*]}); run this script as root: sudo $0"
  fi
  local pkg
  for pkg in "${missing[@]}"; do
    say "install: Debian package $pkg"
  done
  forbid_service_starts
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale or absent (slim images); refresh them once, only now.
  run_logged "apt-get update" apt-get update
  run_logged "apt-get install ${missing[*]}" \
    apt-get install -y --no-install-recommends "${missing[@]}"
  INSTALLED_SOMETHING=1
}

install_kafka_jars() {
  kafka_jars_present && return 0
  command -v mvn >/dev/null 2>&1 || die 2 "mvn is missing; install the Debian package maven"
  say "install: Kafka $PULSE_KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  run_logged "fetching the Kafka $PULSE_KAFKA_VERSION jars" \
    mvn -B -q -f "$DEPLOY_DIR/kafka-pom.xml" dependency:copy-dependencies \
    "-Dkafka.version=$PULSE_KAFKA_VERSION" "-DoutputDirectory=$KAFKA_LIBS"
  [[ -f "$KAFKA_LIBS/kafka_2.13-$PULSE_KAFKA_VERSION.jar" ]] ||
    die 1 "mvn finished but $KAFKA_LIBS has no kafka_2.13-$PULSE_KAFKA_VERSION.jar; see $INSTALL_LOG"
  date -Is >"$KAFKA_JARS_MARKER"
  INSTALLED_SOMETHING=1
}

main() {
  mkdir -p "$PULSE_CACHE_DIR"
  # Two `stack.sh up` runs at once must not run apt or mvn over each other.
  exec 8>"$PULSE_CACHE_DIR/install.lock"
  flock -w 900 8 || die 1 "another install.sh has held $PULSE_CACHE_DIR/install.lock for 15 min"
  trap cleanup EXIT
  INSTALLED_SOMETHING=0
  install_debian_packages
  install_kafka_jars
  ((INSTALLED_SOMETHING)) || say "install: all prerequisites already present"
}

main "$@"
