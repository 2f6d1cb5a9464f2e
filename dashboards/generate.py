"""Contract files in, Grafana dashboard JSON out: ``pulse dashboards build`` and its golden test.

``render(contracts)`` returns every file by relative path; the output is a pure function of the
contracts (sorted keys, fixed layout), so regenerating and diffing is the test. Layout:

    provider/wall-screen.json, provider/service-owner.json, provider/pipeline-health.json
    clients/<client id>/contract-outcomes.json     one per client, its contracts together
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from outcome_pulse.dashboards import client, owner, pipeline, wall
from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import ConfigError

PROVIDER_FOLDER = "provider"
CLIENTS_FOLDER = "clients"


def by_client(contracts: Iterable[Contract]) -> dict[str, list[Contract]]:
    """Contracts grouped by client id, both sorted; two contracts with one id are refused."""
    seen: dict[str, Contract] = {}
    grouped: dict[str, list[Contract]] = {}
    for contract in contracts:
        if contract.contract in seen:
            raise ConfigError(f"contract id {contract.contract!r} appears in two contract files")
        seen[contract.contract] = contract
        grouped.setdefault(contract.client_id, []).append(contract)
    return {cid: sorted(group, key=lambda c: c.contract) for cid, group in sorted(grouped.items())}


def to_json(board: dash_b.Dashboard) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number  # unique within the dashboard, stable across builds
    for variable in data.get("templating", {}).get("list", []):
        if variable.get("type") != "interval":
            # The SDK writes an interval variable's auto-step keys on every variable; Grafana's
            # VariableModel type (and Grafana) know them only on interval variables.
            for key in ("auto", "auto_count", "auto_min"):
                variable.pop(key, None)
    return data


def dashboards(
    contracts: Sequence[Contract], *, evidence_url: str = client.DEFAULT_EVIDENCE_URL
) -> dict[str, dict[str, Any]]:
    """Every dashboard by relative path."""
    clients = by_client(contracts)
    ordered = [c for group in clients.values() for c in group]
    boards = {
        f"{PROVIDER_FOLDER}/wall-screen.json": to_json(wall.build(ordered)),
        f"{PROVIDER_FOLDER}/service-owner.json": to_json(
            owner.build({c.contract: c.client.time_zone for c in ordered})
        ),
        f"{PROVIDER_FOLDER}/pipeline-health.json": to_json(pipeline.build()),
    }
    for client_id, group in clients.items():
        path = f"{CLIENTS_FOLDER}/{client_id}/contract-outcomes.json"
        boards[path] = to_json(client.build(client_id, group, evidence_url))
    return boards


def dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_tree(files: Mapping[str, str], out_dir: Path) -> list[Path]:
    """Write ``files`` under ``out_dir``; files of the same kinds (suffixes) left there by an
    earlier build and no longer produced are removed, nothing else is. Returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {out_dir / rel for rel in files}
    kinds = {Path(rel).suffix for rel in files}
    for stale in [p for p in out_dir.rglob("*") if p.is_file() and p.suffix in kinds]:
        if stale not in wanted:
            stale.unlink()
    written = []
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def differences(files: Mapping[str, str], out_dir: Path) -> list[str]:
    """What differs between ``files`` and the tree under ``out_dir`` (empty: up to date)."""
    present = {
        str(p.relative_to(out_dir)): p
        for p in out_dir.rglob("*")
        if p.is_file() and (p.suffix in (".json", ".yaml") or str(p.relative_to(out_dir)) in files)
    }
    problems = [f"missing: {rel}" for rel in sorted(set(files) - set(present))]
    problems += [f"not generated any more: {rel}" for rel in sorted(set(present) - set(files))]
    for rel in sorted(set(files) & set(present)):
        if present[rel].read_text(encoding="utf-8") != files[rel]:
            problems.append(f"differs: {rel}")
    return problems
