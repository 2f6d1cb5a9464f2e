#!/usr/bin/env bash
# The demo's last step: dashboards and Grafana provisioning for the demo contract, the client's
# database role, and how to point a Grafana at them; publishes them when GRAFANA_URL is set.
#   scripts/demo_grafana.sh [bpic2013|helpdesk|scms]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
declare -A contracts=([bpic2013]=bpic2013_incidents [helpdesk]=helpdesk_tickets [scms]=scms_orders)
dataset="${1:-bpic2013}"
contract="contracts/${contracts[$dataset]:?unknown data set $dataset}.yaml"
state="${PULSE_STATE_DIR:-$repo/.state/stack}"
out="$state/grafana"
secrets="$out/secrets"
pulse=.venv/bin/pulse
mkdir -p "$secrets" && chmod 700 "$secrets"
client=$(.venv/bin/python -c 'import sys; from outcome_pulse.streams.contract_files import load_contract
print(load_contract(sys.argv[1]).client_id)' "$contract")
role=$(.venv/bin/python -c 'import sys; from outcome_pulse.processors.tenancy import client_role
print(client_role(sys.argv[1]))' "$client")

printf '\n== Grafana: dashboards and provisioning for %s (client %s)\n' "$contract" "$client"
"$pulse" dashboards build "$contract" --out "$out/dashboards" --provisioning "$out/deploy" \
  --timescaledb auto
rm -f "$secrets/$role.password" "$secrets/pulse_grafana.password"
"$pulse" tenants add "$client" --rotate-password --password-file "$secrets/$role.password"
"$pulse" tenants provider --rotate-password --password-file "$secrets/pulse_grafana.password"
cat <<TEXT

Point a Grafana 11 at them (no Grafana server is installed here):
  export PULSE_GRAFANA_PG_HOST=127.0.0.1:${PULSE_PG_PORT:-15432} PULSE_GRAFANA_PG_DATABASE=pulse \\
         PULSE_GRAFANA_PG_SSLMODE=disable PULSE_GRAFANA_DASHBOARDS=$out/dashboards \\
         PULSE_GRAFANA_PROMETHEUS_URL=http://127.0.0.1:${PULSE_PROMETHEUS_PORT:-19090} \\
         PULSE_GRAFANA_ALERTMANAGER_URL=http://127.0.0.1:${PULSE_ALERTMANAGER_PORT:-19095} \\
         PULSE_GRAFANA_PASSWORD_PROVIDER=\$(cat $secrets/pulse_grafana.password) \\
         $(.venv/bin/python -c 'import sys; from outcome_pulse.processors.tenancy import client_password_env
print(client_password_env(sys.argv[1]))' "$client")=\$(cat $secrets/$role.password)
  grafana server --homepath /usr/share/grafana cfg:paths.provisioning=$out/deploy/provisioning
Then open /d/pulse-wall?kiosk&theme=dark (wall screen), /d/pulse-service-owner, /d/pulse-pipeline-health
and the client's folder. Variables (passwords above) are read by Grafana's provisioning.
TEXT
if [ -n "${GRAFANA_URL:-}" ]; then
  "$pulse" grafana publish --url "$GRAFANA_URL" "$contract" --secrets "$secrets" --timescaledb auto
fi
