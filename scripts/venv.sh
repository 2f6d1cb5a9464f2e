#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv (idempotent).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Static tools (mypy, import-linter) cannot see through the editable install's import hook; they
# read the packages under their installed names through this tree of links instead.
mkdir -p .venv/typecheck/outcome_pulse
for folder in processors streams sinks contracts dashboards; do
  ln -sfn "../../../$folder" ".venv/typecheck/outcome_pulse/$folder"
done
