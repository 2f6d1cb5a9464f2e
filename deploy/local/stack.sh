#!/usr/bin/env bash
# The local stack: a single-node Apache Kafka broker (KRaft, combined broker + controller), a
# PostgreSQL 15 server, Prometheus Alertmanager and Prometheus, all on 127.0.0.1, all living
# entirely under one state directory:
#
#   $PULSE_STATE_DIR/kafka/{server.properties,log4j.properties,data/}
#   $PULSE_STATE_DIR/postgres/{data/,socket/}
#   $PULSE_STATE_DIR/alertmanager/{alertmanager.yml,data/}   (the config: `pulse alerts config`;
#                                                            a null receiver until there is one)
#   $PULSE_STATE_DIR/prometheus/{prometheus.yml,targets/,data/} (scrapes the worker's metrics on
#                                                            PULSE_METRICS_PORT and the JSON target
#                                                            files in targets/; pipeline rules from
#                                                            deploy/prometheus/, alerts to the
#                                                            Alertmanager)
#   $PULSE_STATE_DIR/logs/{kafka,postgres,alertmanager,prometheus}.log
#   $PULSE_STATE_DIR/run/{kafka,postgres,alertmanager,prometheus}.pid
#
# Usage: stack.sh {up|down|status|restart|reset} [kafka|postgres|alertmanager|prometheus|all]
# Exit codes: 0 ok; 1 a service failed to start or stop; 2 usage, a taken port or a missing
# prerequisite; 3 (status) a requested service is not running and healthy.
#
# Processes are only ever stopped through the PID this script recorded, after checking that the
# PID still belongs to the process we started: other engineers run their own stacks on this host.
set -euo pipefail
set -E
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
trap 'on_unexpected_error $? $LINENO "$BASH_COMMAND"' ERR

# Resolved once so that the paths we pass to pg_ctl are the ones we later find in
# /proc/<pid>/cmdline when checking that a PID is ours.
STATE="$(realpath -m "$PULSE_STATE_DIR")"
RUN_DIR="$STATE/run"
LOG_DIR="$STATE/logs"

KAFKA_DIR="$STATE/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j.properties"
KAFKA_LOG="$LOG_DIR/kafka.log"
KAFKA_PIDFILE="$RUN_DIR/kafka.pid"
KAFKA_START_TIMEOUT=90
KAFKA_STOP_TIMEOUT=30

PG_DIR="$STATE/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCKET="$PG_DIR/socket"
PG_LOG="$LOG_DIR/postgres.log"
PG_PIDFILE="$RUN_DIR/postgres.pid"
PG_START_TIMEOUT=60

AM_DIR="$STATE/alertmanager"
AM_CONF="$AM_DIR/alertmanager.yml"
AM_LOG="$LOG_DIR/alertmanager.log"
AM_PIDFILE="$RUN_DIR/alertmanager.pid"
PROM_DIR="$STATE/prometheus"
PROM_CONF="$PROM_DIR/prometheus.yml"
PROM_LOG="$LOG_DIR/prometheus.log"
PROM_PIDFILE="$RUN_DIR/prometheus.pid"
PROM_RULES="$REPO_ROOT/deploy/prometheus/pulse_pipeline_rules.yml"
HTTP_START_TIMEOUT=60
HTTP_STOP_TIMEOUT=20

usage() {
  warn "usage: $(basename "$0") {up|down|status|restart|reset} [kafka|postgres|alertmanager|prometheus|all]"
  exit 2
}

# ---------------------------------------------------------------------------------------------
# small helpers

# fail_with_log CODE MESSAGE LOGFILE: one line naming the log, then its tail for context.
fail_with_log() {
  local code="$1" message="$2" log="$3"
  warn "error: $message; see $log (last 20 lines below)"
  tail -n 20 "$log" >&2 2>/dev/null || true
  exit "$code"
}

# A separator in the service log so each start/stop attempt can be found in it.
log_banner() {
  printf '\n=== %s stack.sh: %s\n' "$(date -Is)" "$2" >>"$1"
}

is_root() { ((EUID == 0)); }

# Closes every descriptor above stderr in the current (sub)shell. Daemons started from here
# must not keep our lock (fd 9) or a caller's pipes open: a test runner or CI step waiting for
# EOF on such a pipe would hang for as long as the broker or postmaster lives.
close_inherited_fds() {
  local entry fd
  for entry in /proc/"$BASHPID"/fd/*; do
    fd="${entry##*/}"
    if ((fd > 2)) && [[ -e "$entry" ]]; then
      exec {fd}>&-
    fi
  done
}

# initdb and pg_ctl refuse to run as root, so root runs them as the postgres user; anyone else
# runs them as themselves. `cd /` because postgres may not be allowed into root's cwd.
as_pg() {
  (
    cd /
    close_inherited_fds
    if is_root; then
      exec runuser -u postgres -- "$@"
    fi
    exec "$@"
  )
}

validate_port() {
  local name="$1" value="$2"
  if [[ ! "$value" =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    die 2 "$name=$value is not a TCP port number"
  fi
}

validate_settings() {
  validate_port PULSE_KAFKA_PORT "$PULSE_KAFKA_PORT"
  validate_port PULSE_KAFKA_CONTROLLER_PORT "$PULSE_KAFKA_CONTROLLER_PORT"
  validate_port PULSE_PG_PORT "$PULSE_PG_PORT"
  validate_port PULSE_ALERTMANAGER_PORT "$PULSE_ALERTMANAGER_PORT"
  validate_port PULSE_PROMETHEUS_PORT "$PULSE_PROMETHEUS_PORT"
  validate_port PULSE_METRICS_PORT "$PULSE_METRICS_PORT"
  [[ "$PULSE_KAFKA_PORT" != "$PULSE_KAFKA_CONTROLLER_PORT" ]] ||
    die 2 "PULSE_KAFKA_PORT and PULSE_KAFKA_CONTROLLER_PORT must differ"
  # The path is spliced into pg_ctl's `sh -c` command line inside single quotes.
  [[ "$STATE" != *"'"* ]] || die 2 "PULSE_STATE_DIR must not contain a single quote: $STATE"
}

# ---------------------------------------------------------------------------------------------
# PIDs: recorded by us, trusted only while /proc says the process is still the one we started

read_pidfile() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(head -n 1 "$1" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$pid"
}

# pid_cmdline_has PID WORD...: the live process's command line contains every WORD. A zombie or
# a recycled PID has an empty or different command line and fails this.
pid_cmdline_has() {
  local pid="$1" cmdline word
  shift
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  for word in "$@"; do
    [[ "$cmdline" == *"$word"* ]] || return 1
  done
}

# Our broker is the one started with our server.properties; our postmaster the one on our data dir.
pid_is_ours() {
  case "$1" in
    kafka) pid_cmdline_has "$2" kafka.Kafka "$KAFKA_CONF" ;;
    postgres) pid_cmdline_has "$2" postgres "$PG_DATA" ;;
    alertmanager) pid_cmdline_has "$2" prometheus-alertmanager "$AM_CONF" ;;
    prometheus) pid_cmdline_has "$2" prometheus "$PROM_CONF" ;;
  esac
}

pidfile_of() {
  case "$1" in
    kafka) printf '%s\n' "$KAFKA_PIDFILE" ;;
    postgres) printf '%s\n' "$PG_PIDFILE" ;;
    alertmanager) printf '%s\n' "$AM_PIDFILE" ;;
    prometheus) printf '%s\n' "$PROM_PIDFILE" ;;
  esac
}

# Prints the PID of our running service, or fails.
service_pid() {
  local pid
  pid="$(read_pidfile "$(pidfile_of "$1")")" || return 1
  pid_is_ours "$1" "$pid" || return 1
  printf '%s\n' "$pid"
}

remove_stale_pidfile() {
  local svc="$1" pidfile pid
  pidfile="$(pidfile_of "$svc")"
  [[ -f "$pidfile" ]] || return 0
  service_pid "$svc" >/dev/null && return 0
  pid="$(read_pidfile "$pidfile" || printf '?')"
  rm -f "$pidfile"
  say "$svc: removed stale pid file (pid $pid is no longer our $svc process)"
}

# ---------------------------------------------------------------------------------------------
# ports

port_of() {
  case "$1" in
    kafka) printf '%s\n' "$PULSE_KAFKA_PORT" ;;
    postgres) printf '%s\n' "$PULSE_PG_PORT" ;;
    alertmanager) printf '%s\n' "$PULSE_ALERTMANAGER_PORT" ;;
    prometheus) printf '%s\n' "$PULSE_PROMETHEUS_PORT" ;;
  esac
}

port_accepts() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints "pid N name" for whatever listens on PORT (any address, since 0.0.0.0 and [::] also
# block 127.0.0.1), or fails when nothing does.
port_holder() {
  local port="$1" line
  if ! command -v ss >/dev/null 2>&1; then
    port_accepts "$port" && printf 'pid unknown\n'
    return
  fi
  line="$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n '1p')"
  [[ -n "$line" ]] || return 1
  if [[ "$line" =~ users:\(\(\"([^\"]*)\",pid=([0-9]+) ]]; then
    printf 'pid %s %s\n' "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}"
  else
    printf 'pid unknown\n'
  fi
}

require_free_port() {
  local port="$1" variable="$2" holder
  holder="$(port_holder "$port")" || return 0
  die 2 "port $port is already in use by another process ($holder); set $variable to a free port or stop it"
}

require_free_ports() {
  case "$1" in
    kafka)
      require_free_port "$PULSE_KAFKA_PORT" PULSE_KAFKA_PORT
      require_free_port "$PULSE_KAFKA_CONTROLLER_PORT" PULSE_KAFKA_CONTROLLER_PORT
      ;;
    postgres) require_free_port "$PULSE_PG_PORT" PULSE_PG_PORT ;;
    alertmanager) require_free_port "$PULSE_ALERTMANAGER_PORT" PULSE_ALERTMANAGER_PORT ;;
    prometheus) require_free_port "$PULSE_PROMETHEUS_PORT" PULSE_PROMETHEUS_PORT ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# prerequisites

# Prints, one per line, what SERVICE needs and does not have, as "thing:what to install".
missing_prerequisites() {
  case "$1" in
    kafka)
      command -v java >/dev/null 2>&1 || printf 'java:the Debian package openjdk-17-jre-headless\n'
      kafka_jars_present ||
        printf 'Kafka %s jars:deploy/local/install.sh (needs maven)\n' "$PULSE_KAFKA_VERSION"
      command -v kcat >/dev/null 2>&1 || printf 'kcat:the Debian package kcat\n'
      ;;
    postgres)
      pg_binaries_present || printf 'PostgreSQL 15:the Debian package postgresql-15\n'
      if is_root && ! id -u postgres >/dev/null 2>&1; then
        printf 'user postgres:the Debian package postgresql-15\n'
      fi
      ;;
    alertmanager)
      command -v prometheus-alertmanager >/dev/null 2>&1 ||
        printf 'alertmanager:the Debian package prometheus-alertmanager\n'
      command -v curl >/dev/null 2>&1 || printf 'curl:the Debian package curl\n'
      ;;
    prometheus)
      command -v prometheus >/dev/null 2>&1 || printf 'prometheus:the Debian package prometheus\n'
      command -v curl >/dev/null 2>&1 || printf 'curl:the Debian package curl\n'
      ;;
  esac
}

ensure_prerequisites() {
  local svc missing=""
  for svc in "$@"; do
    missing+="$(missing_prerequisites "$svc")"
  done
  [[ -n "$missing" ]] || return 0
  # install.sh prints one line per thing it installs, or one line saying why it could not.
  "$DEPLOY_DIR/install.sh" || exit $?
  for svc in "$@"; do
    missing="$(missing_prerequisites "$svc" | sed -n '1p')"
    [[ -z "$missing" ]] || die 2 "${missing%%:*} is missing; install ${missing#*:}"
  done
}

# ---------------------------------------------------------------------------------------------
# Kafka

write_kafka_config() {
  # Rewritten on every start so that changed ports take effect; the data stays as it is.
  cat >"$KAFKA_CONF" <<EOF
# Written by deploy/local/stack.sh on each start; edits here are overwritten.
# Single node in KRaft mode: this process is both the broker and the only controller.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$PULSE_KAFKA_PORT,CONTROLLER://127.0.0.1:$PULSE_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PULSE_KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
# Dynamic quorum (KIP-853); storage is formatted with --standalone. Not controller.quorum.voters.
controller.quorum.bootstrap.servers=127.0.0.1:$PULSE_KAFKA_CONTROLLER_PORT
log.dirs=$KAFKA_DATA
# One broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Consumers join at once instead of waiting 3 s for more group members (faster tests).
group.initial.rebalance.delay.ms=0
num.partitions=1
# Topics are created explicitly with their partition counts (a mismatch stops Faust workers).
auto.create.topics.enable=false
EOF
  cat >"$KAFKA_LOG4J" <<EOF
# Written by deploy/local/stack.sh: everything at INFO into one file, nothing on the console.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KAFKA_LOG
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
# Per-request logging is noise at INFO.
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel\$=WARN
EOF
}

kafka_java() {
  java "-Dlog4j.configuration=file:$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

# meta.properties is what StorageTool writes; reformatting would throw away every topic.
format_kafka_storage_once() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cluster_id
  log_banner "$KAFKA_LOG" "formatting storage"
  cluster_id="$(kafka_java -Xmx256m kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" |
    tail -n 1)" || fail_with_log 1 "could not generate a Kafka cluster id" "$KAFKA_LOG"
  kafka_java -Xmx256m kafka.tools.StorageTool format --standalone -t "$cluster_id" \
    -c "$KAFKA_CONF" >>"$KAFKA_LOG" 2>&1 ||
    fail_with_log 1 "formatting the Kafka storage in $KAFKA_DATA failed" "$KAFKA_LOG"
  say "kafka: formatted storage in $KAFKA_DATA (cluster id $cluster_id)"
}

kafka_healthy() {
  port_accepts "$PULSE_KAFKA_PORT" &&
    kcat -b "127.0.0.1:$PULSE_KAFKA_PORT" -L -m 5 >/dev/null 2>&1
}

# pid_alive PID: the process exists and is not a zombie. During startup this, not the command
# line, tells whether it died: until the background shell has exec'd `java`, the command line
# still reads bash/nohup/setsid, and a check on it wrongly reported a dead broker.
pid_alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != "Z" ]]
}

# Polls until the broker answers a metadata request; fails early if the process died.
kafka_wait_healthy() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until kafka_healthy; do
    if ! pid_alive "$pid"; then
      rm -f "$KAFKA_PIDFILE"
      fail_with_log 1 "kafka (pid $pid) exited during startup" "$KAFKA_LOG"
    fi
    if ((SECONDS >= deadline)); then
      fail_with_log 1 "kafka (pid $pid) did not answer on 127.0.0.1:$PULSE_KAFKA_PORT within ${KAFKA_START_TIMEOUT}s" "$KAFKA_LOG"
    fi
    sleep 0.5
  done
}

# Services this `up` started. When a later step fails (PostgreSQL does not start after Kafka
# did), the EXIT trap stops exactly these, so a failed `up` leaves nothing half running.
STARTED_NOW=()

stop_started_on_failure() {
  local code=$? i
  ((code != 0 && ${#STARTED_NOW[@]} > 0)) || return 0
  warn "stack.sh: up failed; stopping what it started: ${STARTED_NOW[*]}"
  for ((i = ${#STARTED_NOW[@]} - 1; i >= 0; i--)); do
    (stop "${STARTED_NOW[i]}") || warn "stack.sh: could not stop ${STARTED_NOW[i]}"
  done
  exit "$code"
}

kafka_start() {
  local pid started=$SECONDS
  mkdir -p "$KAFKA_DATA" "$LOG_DIR" "$RUN_DIR"
  write_kafka_config
  format_kafka_storage_once
  log_banner "$KAFKA_LOG" "starting kafka"
  # setsid: its own session, so a Ctrl-C at the terminal or a test runner killing its process
  # group does not take the broker down. The background group execs, so $! is the JVM's PID.
  {
    close_inherited_fds
    exec nohup setsid java -Xms256m -Xmx1g -Djava.awt.headless=true \
      "-Dlog4j.configuration=file:$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
  } </dev/null >>"$KAFKA_LOG" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$KAFKA_PIDFILE"
  STARTED_NOW+=(kafka)
  kafka_wait_healthy "$pid"
  say "kafka: started pid $pid on 127.0.0.1:$PULSE_KAFKA_PORT, healthy after $((SECONDS - started))s"
}

kafka_stop() {
  local pid
  pid="$(service_pid kafka)" || return 0
  log_banner "$KAFKA_LOG" "stopping kafka pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until_gone kafka "$pid" "$KAFKA_STOP_TIMEOUT"; then
    warn "kafka: pid $pid still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until_gone kafka "$pid" 10 ||
      fail_with_log 1 "kafka pid $pid survived SIGKILL" "$KAFKA_LOG"
  fi
  rm -f "$KAFKA_PIDFILE"
  say "kafka: stopped (pid $pid)"
}

wait_until_gone() {
  local svc="$1" pid="$2" deadline=$((SECONDS + $3))
  while pid_is_ours "$svc" "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# Every directory from / down to the state dir's parent must be enterable by postgres. We do not
# change permissions outside the state dir; we name the first one that blocks instead.
require_pg_can_reach_state_dir() {
  local parent dir="" part
  local -a parts
  parent="$(dirname "$STATE")"
  as_pg test -x "$parent" && return 0
  IFS=/ read -r -a parts <<<"${parent#/}"
  for part in "${parts[@]}"; do
    dir+="/$part"
    as_pg test -x "$dir" ||
      die 2 "user postgres cannot enter $dir (a parent of PULSE_STATE_DIR); run chmod o+x $dir or set PULSE_STATE_DIR to a path under a traversable directory (e.g. /tmp or /var/tmp)"
  done
}

# The default state root (/var/tmp/outcome-pulse/<hash>: the stack's and the tests' state dirs)
# is ours: make it traversable even when created under a umask of 077, so that postgres can
# reach its data directory below it.
open_default_state_root() {
  [[ "$STATE" == "$PULSE_DEFAULT_STATE_ROOT"/* ]] || return 0
  mkdir -p "$STATE"
  chmod o+x "$PULSE_STATE_BASE" "$PULSE_DEFAULT_STATE_ROOT" 2>/dev/null || true
}

prepare_pg_dirs() {
  open_default_state_root
  mkdir -p "$PG_DIR" "$LOG_DIR" "$RUN_DIR"
  touch "$PG_LOG"
  # Unix socket paths are limited to 107 bytes; long state paths (pytest tmp dirs) exceed it.
  local socket_file="$PG_SOCKET/.s.PGSQL.$PULSE_PG_PORT"
  ((${#socket_file} <= 107)) ||
    die 2 "socket path $socket_file is longer than 107 bytes; set PULSE_STATE_DIR to a shorter path"
  is_root || {
    mkdir -p "$PG_DATA" "$PG_SOCKET"
    return 0
  }
  chmod o+x "$STATE" "$PG_DIR" "$LOG_DIR" # inside the state dir only
  require_pg_can_reach_state_dir
  if [[ ! -d "$PG_DATA" ]]; then
    install -d -m 0700 -o postgres -g postgres "$PG_DATA"
  fi
  install -d -m 0755 -o postgres -g postgres "$PG_SOCKET"
  chown postgres:postgres "$PG_LOG" # pg_ctl -l opens it as postgres
}

pg_init_once() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  log_banner "$PG_LOG" "initdb"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust --encoding=UTF8 --locale=C.UTF-8 \
    >>"$PG_LOG" 2>&1 || fail_with_log 1 "initdb of $PG_DATA failed" "$PG_LOG"
  say "postgres: initialised $PG_DATA"
}

# Server options on the pg_ctl command line, so port changes need no edit of postgresql.conf;
# pg-server-options.sh defines them for every PostgreSQL the project starts (tests included).
pg_server_options() {
  "$DEPLOY_DIR/pg-server-options.sh" "$PULSE_PG_PORT" "$PG_SOCKET" "$PG_BIN/pg_config"
}

pg_healthy() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PULSE_PG_PORT" -U postgres -d postgres -t 5 >/dev/null 2>&1
}

pg_psql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PULSE_PG_PORT" -U postgres "$@"
}

pg_create_database_once() {
  local exists
  # psql variables (:'db') quote the name for us; -c would not interpolate them.
  exists="$(pg_psql -d postgres -tA -v db="$PULSE_PG_DATABASE" 2>>"$PG_LOG" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
)" || fail_with_log 1 "could not query databases on 127.0.0.1:$PULSE_PG_PORT" "$PG_LOG"
  [[ -z "$exists" ]] || return 0
  if ! pg_psql -d postgres -v db="$PULSE_PG_DATABASE" >>"$PG_LOG" 2>&1 <<'SQL'; then
SELECT format('CREATE DATABASE %I', :'db') \gexec
SQL
    fail_with_log 1 "could not create database $PULSE_PG_DATABASE" "$PG_LOG"
  fi
  say "postgres: created database $PULSE_PG_DATABASE"
}

pg_start() {
  local pid started=$SECONDS
  prepare_pg_dirs
  pg_init_once
  log_banner "$PG_LOG" "starting postgres"
  STARTED_NOW+=(postgres) # stopping a postmaster that never came up is a no-op
  # pg_ctl's own messages and the server's (-l) share the log; both only append to it.
  # shellcheck disable=SC2094
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "$(pg_server_options)" \
    -w -t "$PG_START_TIMEOUT" start >>"$PG_LOG" 2>&1 ||
    fail_with_log 1 "postgres did not start on 127.0.0.1:$PULSE_PG_PORT" "$PG_LOG"
  pid="$(read_pidfile "$PG_DATA/postmaster.pid")" ||
    fail_with_log 1 "postgres started but $PG_DATA/postmaster.pid has no PID" "$PG_LOG"
  printf '%s\n' "$pid" >"$PG_PIDFILE"
  pg_healthy || fail_with_log 1 "postgres (pid $pid) is not ready on 127.0.0.1:$PULSE_PG_PORT" "$PG_LOG"
  pg_create_database_once
  say "postgres: started pid $pid on 127.0.0.1:$PULSE_PG_PORT, healthy after $((SECONDS - started))s"
}

pg_wait_healthy() {
  local pid="$1" deadline=$((SECONDS + PG_START_TIMEOUT))
  until pg_healthy; do
    pid_is_ours postgres "$pid" || fail_with_log 1 "postgres (pid $pid) exited" "$PG_LOG"
    ((SECONDS < deadline)) ||
      fail_with_log 1 "postgres (pid $pid) not ready within ${PG_START_TIMEOUT}s" "$PG_LOG"
    sleep 0.5
  done
}

pg_stop() {
  local pid
  pid="$(service_pid postgres)" || return 0
  log_banner "$PG_LOG" "stopping postgres pid $pid"
  # pg_ctl signals the PID in $PG_DATA/postmaster.pid: exactly our postmaster.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >>"$PG_LOG" 2>&1 ||
    fail_with_log 1 "postgres (pid $pid) did not stop" "$PG_LOG"
  rm -f "$PG_PIDFILE"
  say "postgres: stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------------
# Alertmanager and Prometheus: plain HTTP daemons, health by their /-/ready endpoints

http_ready() {
  curl -sf -m 2 -o /dev/null "http://127.0.0.1:$1/-/ready"
}

# http_wait_ready NAME PID PORT LOG PIDFILE
http_wait_ready() {
  local name="$1" pid="$2" port="$3" log="$4" pidfile="$5" deadline=$((SECONDS + HTTP_START_TIMEOUT))
  until http_ready "$port"; do
    if ! pid_alive "$pid"; then
      rm -f "$pidfile"
      fail_with_log 1 "$name (pid $pid) exited during startup" "$log"
    fi
    ((SECONDS < deadline)) ||
      fail_with_log 1 "$name (pid $pid) not ready on 127.0.0.1:$port within ${HTTP_START_TIMEOUT}s" "$log"
    sleep 0.3
  done
}

# http_stop NAME PIDFILE LOG
http_stop() {
  local svc="$1" log="$2" pid
  pid="$(service_pid "$svc")" || return 0
  log_banner "$log" "stopping $svc pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until_gone "$svc" "$pid" "$HTTP_STOP_TIMEOUT"; then
    warn "$svc: pid $pid still running after ${HTTP_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until_gone "$svc" "$pid" 10 || fail_with_log 1 "$svc pid $pid survived SIGKILL" "$log"
  fi
  rm -f "$(pidfile_of "$svc")"
  say "$svc: stopped (pid $pid)"
}

# Until `pulse alerts config` writes the real routing, alerts go to a receiver that sends nothing.
write_default_am_config() {
  [[ -f "$AM_CONF" ]] && return 0
  cat >"$AM_CONF" <<'YAML'
# Placeholder written by deploy/local/stack.sh: no receiver sends anything. Generate the real
# routing from the contracts with `pulse alerts config --contract FILE... --out THIS_FILE`, then
# `pulse alerts reload` (or restart the alertmanager).
route:
  receiver: "null"
receivers:
  - name: "null"
YAML
}

am_start() {
  local pid started=$SECONDS
  mkdir -p "$AM_DIR/data" "$LOG_DIR" "$RUN_DIR"
  write_default_am_config
  log_banner "$AM_LOG" "starting alertmanager"
  # An empty cluster address disables the gossip listener (a single instance, nothing on 9094).
  {
    close_inherited_fds
    exec nohup setsid prometheus-alertmanager "--config.file=$AM_CONF" \
      "--storage.path=$AM_DIR/data" "--web.listen-address=127.0.0.1:$PULSE_ALERTMANAGER_PORT" \
      "--cluster.listen-address=" "--web.external-url=http://127.0.0.1:$PULSE_ALERTMANAGER_PORT"
  } </dev/null >>"$AM_LOG" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$AM_PIDFILE"
  http_wait_ready alertmanager "$pid" "$PULSE_ALERTMANAGER_PORT" "$AM_LOG" "$AM_PIDFILE"
  say "alertmanager: started pid $pid on 127.0.0.1:$PULSE_ALERTMANAGER_PORT, healthy after $((SECONDS - started))s"
}

write_prometheus_config() {
  mkdir -p "$PROM_DIR/targets"
  cat >"$PROM_CONF" <<YAML
# Written by deploy/local/stack.sh at every start (edit the script, not this file).
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $PROM_RULES
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$PULSE_ALERTMANAGER_PORT"]
scrape_configs:
  - job_name: pulse-worker
    static_configs:
      - targets: ["127.0.0.1:$PULSE_METRICS_PORT"]
    file_sd_configs:
      - files: ["$PROM_DIR/targets/*.json"]
        refresh_interval: 5s
YAML
}

prom_start() {
  local pid started=$SECONDS
  mkdir -p "$PROM_DIR/data" "$LOG_DIR" "$RUN_DIR"
  write_prometheus_config
  log_banner "$PROM_LOG" "starting prometheus"
  {
    close_inherited_fds
    exec nohup setsid prometheus "--config.file=$PROM_CONF" "--storage.tsdb.path=$PROM_DIR/data" \
      "--web.listen-address=127.0.0.1:$PULSE_PROMETHEUS_PORT" --web.enable-lifecycle
  } </dev/null >>"$PROM_LOG" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$PROM_PIDFILE"
  http_wait_ready prometheus "$pid" "$PULSE_PROMETHEUS_PORT" "$PROM_LOG" "$PROM_PIDFILE"
  say "prometheus: started pid $pid on 127.0.0.1:$PULSE_PROMETHEUS_PORT, healthy after $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------------------------
# per-service dispatch

healthy() {
  case "$1" in
    kafka) kafka_healthy ;;
    postgres) pg_healthy ;;
    alertmanager) http_ready "$PULSE_ALERTMANAGER_PORT" ;;
    prometheus) http_ready "$PULSE_PROMETHEUS_PORT" ;;
  esac
}

wait_healthy() {
  case "$1" in
    kafka) kafka_wait_healthy "$2" ;;
    postgres) pg_wait_healthy "$2" ;;
    alertmanager) http_wait_ready alertmanager "$2" "$PULSE_ALERTMANAGER_PORT" "$AM_LOG" "$AM_PIDFILE" ;;
    prometheus) http_wait_ready prometheus "$2" "$PULSE_PROMETHEUS_PORT" "$PROM_LOG" "$PROM_PIDFILE" ;;
  esac
}

start() {
  case "$1" in
    kafka) kafka_start ;;
    postgres) pg_start ;;
    alertmanager) am_start ;;
    prometheus) prom_start ;;
  esac
}

stop() {
  case "$1" in
    kafka) kafka_stop ;;
    postgres) pg_stop ;;
    alertmanager) http_stop alertmanager "$AM_LOG" ;;
    prometheus) http_stop prometheus "$PROM_LOG" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# commands

# Whole-state-dir lock: two `up`s at once (parallel test runners) must not both start a broker.
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/stack.lock"
  flock -w 300 9 || die 1 "another stack.sh has held $RUN_DIR/stack.lock for 5 minutes"
}

cmd_up() {
  local svc pid
  ensure_prerequisites "$@"
  # Check every port before starting anything, so a conflict leaves nothing half started.
  for svc in "$@"; do
    remove_stale_pidfile "$svc"
    service_pid "$svc" >/dev/null || require_free_ports "$svc"
  done
  for svc in "$@"; do
    if pid="$(service_pid "$svc")"; then
      if ! healthy "$svc"; then
        say "$svc: running (pid $pid) but not healthy yet; waiting"
        wait_healthy "$svc" "$pid"
      fi
      say "$svc: already running (pid $pid) on 127.0.0.1:$(port_of "$svc"), healthy"
    else
      start "$svc"
    fi
  done
}

cmd_down() {
  local svc
  for svc in "$@"; do
    remove_stale_pidfile "$svc"
    if service_pid "$svc" >/dev/null; then
      stop "$svc"
    else
      say "$svc: not running"
    fi
  done
}

cmd_status() {
  local svc pid health all_ok=0
  for svc in "$@"; do
    if pid="$(service_pid "$svc")"; then
      health=unhealthy
      healthy "$svc" && health=healthy
      printf '%-12s %-8s pid %-6s 127.0.0.1:%-6s %s\n' "$svc" running "$pid" "$(port_of "$svc")" "$health"
      [[ "$health" == healthy ]] || all_ok=3
    else
      printf '%-12s %s\n' "$svc" stopped
      all_ok=3
    fi
  done
  return "$all_ok"
}

# Deletes only the directories this script creates, never the state dir itself, so a wrong
# PULSE_STATE_DIR cannot take anything else with it. Logs are kept for the post-mortem.
cmd_reset() {
  local svc dir
  cmd_down "$@"
  for svc in "$@"; do
    case "$svc" in
      kafka) dir="$KAFKA_DIR" ;;
      postgres) dir="$PG_DIR" ;;
      alertmanager) dir="$AM_DIR" ;;
      prometheus) dir="$PROM_DIR" ;;
    esac
    if [[ -e "$dir" ]]; then
      rm -rf -- "$dir"
      say "$svc: removed $dir"
    fi
  done
}

main() {
  (($# >= 1 && $# <= 2)) || usage
  local command="$1"
  local -a services
  case "${2:-all}" in
    all) services=(kafka postgres alertmanager prometheus) ;;
    kafka | postgres | alertmanager | prometheus) services=("$2") ;;
    *) usage ;;
  esac
  validate_settings
  case "$command" in
    up)
      trap stop_started_on_failure EXIT
      take_lock && cmd_up "${services[@]}"
      ;;
    down) take_lock && cmd_down "${services[@]}" ;;
    restart) take_lock && cmd_down "${services[@]}" && cmd_up "${services[@]}" ;;
    reset) take_lock && cmd_reset "${services[@]}" ;;
    status)
      local code=0
      cmd_status "${services[@]}" || code=$?
      exit "$code"
      ;;
    *) usage ;;
  esac
}

main "$@"
