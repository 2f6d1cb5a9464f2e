#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing (Debian packages, Kafka jars, the
# Python environment), bring up the local stack, start a worker, replay the BPIC 2013 incident
# log through Kafka into PostgreSQL and print the summary. Extra arguments go to `pulse demo`
# (for example --dataset helpdesk).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash deploy/local/install.sh
bash scripts/venv.sh
.venv/bin/pulse demo "$@"
dataset=bpic2013
for ((i = 1; i <= $#; i++)); do [ "${!i}" = --dataset ] && j=$((i + 1)) && dataset="${!j}"; done
bash scripts/demo_grafana.sh "$dataset"   # dashboards + provisioning (publishes if GRAFANA_URL)
