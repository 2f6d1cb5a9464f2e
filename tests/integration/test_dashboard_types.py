"""The generated dashboard JSON type-checks against Grafana's own TypeScript types
(``@grafana/schema`` 11.6 from npm, installed by ``scripts/grafana_types.sh`` into a cache outside
the repository): ``tsc --noEmit --strict`` on ``const d = <json> satisfies PulseDashboard``.

JSON cannot name a TypeScript enum member, so the check maps every string enum in the types to
the union of its values (``ThresholdsMode`` -> ``'absolute' | 'percentage'``), which is what
Grafana reads from JSON. ``PulseDashboard`` is ``Dashboard`` with the panel targets and
annotation queries narrowed to the two query shapes the generator emits (Grafana's SQL query
model, Prometheus's), so unknown or mistyped keys there fail too (``Dashboard`` alone types
targets as ``Record<string, unknown>``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from outcome_pulse.dashboards.generate import dashboards
from outcome_pulse.streams.contract_files import load_contract

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

PRELUDE = """\
import type { AnnotationQuery, DataQuery, Dashboard, DataSourceRef, Panel } from '@grafana/schema';

interface PulseSqlQuery extends DataQuery {
  datasource: DataSourceRef;
  editorMode: 'code' | 'builder';
  format: 'table' | 'time_series';
  rawQuery: boolean;
  rawSql: string;
}

interface PulsePromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
}

type PulsePanel = Omit<Panel, 'targets'> & { targets?: Array<PulseSqlQuery | PulsePromQuery> };

type PulseDashboard = Omit<Dashboard, 'annotations' | 'panels'> & {
  annotations?: { list?: Array<AnnotationQuery<PulseSqlQuery>> };
  panels?: PulsePanel[];
};

// String enums as the strings JSON carries; everything else unchanged, keys and all.
type AsJson<T> = T extends string
  ? string extends T ? T : `${T}`
  : T extends ReadonlyArray<infer U>
    ? Array<AsJson<U>>
    : T extends object
      ? { [K in keyof T]: AsJson<T[K]> }
      : T;
"""


@pytest.fixture(scope="module")
def types_dir() -> Path:
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "grafana_types.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def _tsc(types_dir: Path, work: Path, boards: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (work / "node_modules").symlink_to(types_dir / "node_modules")
    files = []
    for n, (rel, board) in enumerate(sorted(boards.items())):
        path = work / f"board{n}.ts"
        path.write_text(
            f"// {rel}\n{PRELUDE}\nexport const d = {json.dumps(board, indent=2)} "
            "satisfies AsJson<PulseDashboard>;\n"
        )
        files.append(str(path))
    return subprocess.run(
        [
            str(types_dir / "node_modules" / ".bin" / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2020",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            *files,
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def boards() -> dict[str, Any]:
    return dashboards([load_contract(p) for p in sorted((REPO / "contracts").glob("*.yaml"))])


def test_every_dashboard_satisfies_grafanas_types(
    types_dir: Path, tmp_path: Path, boards: dict[str, Any]
) -> None:
    done = _tsc(types_dir, tmp_path, boards)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_mistyped_dashboard_fails_the_check(
    types_dir: Path, tmp_path: Path, boards: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(boards["provider/wall-screen.json"]))
    broken["panels"][0]["gridPos"]["h"] = "tall"
    broken["panels"][1]["targets"][0]["rawSQL"] = broken["panels"][1]["targets"][0].pop("rawSql")
    done = _tsc(types_dir, tmp_path, {"broken.json": broken})
    assert done.returncode != 0
    assert "'string' is not assignable to type 'number'" in done.stdout
    assert "rawSQL" in done.stdout
