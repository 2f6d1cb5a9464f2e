#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv (idempotent). Prints one line of
# progress; pip's own output goes to .venv/install.log, shown only if the install fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "python environment: installing outcome-pulse and its dependencies into .venv (log: .venv/install.log)"
  if ! {
    .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip &&
      .venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
  } >.venv/install.log 2>&1; then
    tail -n 40 .venv/install.log >&2
    echo "python environment: pip failed; the whole log is .venv/install.log" >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Static tools (mypy, import-linter) cannot see through the editable install's import hook; they
# read the packages under their installed names through this tree of links instead.
mkdir -p .venv/typecheck/outcome_pulse
for folder in processors streams sinks contracts dashboards; do
  ln -sfn "../../../$folder" ".venv/typecheck/outcome_pulse/$folder"
done
