"""The pipeline-health Prometheus rules: the committed file is what the generator writes,
``promtool`` checks it and runs its unit tests (and a wrong expectation fails them), and every
metric the rules read is one the worker exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.sinks.pipeline_rules import pipeline_rules, render_rules

pytestmark = pytest.mark.integration
RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "pulse_pipeline_rules.yml"
TESTS = RULES_DIR / "pulse_pipeline_rules.test.yml"


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_the_committed_rules_are_the_generated_ones() -> None:
    assert RULES.read_text(encoding="utf-8") == render_rules(), (
        "deploy/prometheus/pulse_pipeline_rules.yml is stale: run "
        "`pulse alerts rules --out deploy/prometheus/pulse_pipeline_rules.yml`"
    )


def test_promtool_checks_the_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(pipeline_rules()['groups'][0]['rules'])} rules found" in checked.stdout


def test_promtool_unit_tests_pass() -> None:
    tested = promtool("test", "rules", TESTS.name, cwd=RULES_DIR)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.mark.parametrize(
    ("right", "wrong"),
    [
        ("summary: Worker w1 is 12k events behind", "summary: Worker w1 is 13k events behind"),
        ("- eval_time: 3m\n        alertname: PulseWorkerDown", "- eval_time: 90s\n        "
         "alertname: PulseWorkerDown"),
        ("{severity: page, component: pipeline, instance: w1}\n            exp_annotations:\n"
         "              summary: The contract monitor",
         "{severity: ticket, component: pipeline, instance: w1}\n            exp_annotations:\n"
         "              summary: The contract monitor"),
    ],
)  # fmt: skip
def test_a_wrong_expectation_fails(tmp_path: Path, right: str, wrong: str) -> None:
    text = TESTS.read_text(encoding="utf-8")
    assert right in text
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / TESTS.name).write_text(text.replace(right, wrong), encoding="utf-8")
    tested = promtool("test", "rules", TESTS.name, cwd=tmp_path)
    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert "FAILED" in tested.stdout + tested.stderr


def test_the_rules_read_metrics_the_worker_exports() -> None:
    exported = PipelineMetrics().exposition().decode()
    names = set(re.findall(r"^# TYPE (\S+) ", exported, flags=re.M))
    families = names | {f"{n}_total" for n in names}
    used = {
        name
        for rule in pipeline_rules()["groups"][0]["rules"]
        for name in re.findall(r"\b(pulse_[a-z_]+)\b", rule["expr"])
    }
    assert used and used <= families, used - families
