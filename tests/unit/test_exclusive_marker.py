"""The check that keeps stack-restarting tests out of the parallel part
(tests/support/exclusive.py), on small sources, on the real test tree and on a real collection."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.exclusive import (
    EXCLUSIVE,
    MODULE_LEVEL,
    PRIVATE_STACK,
    STACK_CONTROLS,
    STACK_SCRIPT,
    Collected,
    helper_controls,
    module_use,
    reaching,
    unmarked,
)

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"


def reached(source: str, controls: frozenset[str] = STACK_CONTROLS) -> frozenset[str]:
    return reaching(module_use(textwrap.dedent(source)), controls)


def test_a_direct_call_and_a_call_through_a_helper_or_a_fixture_are_found() -> None:
    source = """
        import pytest
        from outcome_pulse.streams.cli.processes import run_stack_script

        def bounce(settings):
            run_stack_script(settings, "restart", "kafka")

        @pytest.fixture
        def outage(settings):
            bounce(settings)
            yield

        def test_direct(settings):
            assert run_stack_script(settings, "down", "postgres") == 0

        def test_helper(settings):
            bounce(settings)

        def test_fixture(outage):
            pass

        def test_other(settings):
            assert settings

        class TestGroup:
            def test_in_a_class(self, settings):
                bounce(settings)
        """
    found = reached(source)
    assert {"test_direct", "test_helper", "test_fixture", "TestGroup"} <= found
    assert "test_other" not in found
    # Importing the control is not using it: a test of the module that does not is not found.
    assert MODULE_LEVEL not in found
    assert MODULE_LEVEL in reached(textwrap.dedent(source) + "restart = run_stack_script\n")


def test_a_module_that_only_mentions_the_script_in_docstrings_reaches_nothing() -> None:
    # (f-strings, so that this module itself names no stack script: the check reads it too)
    source = f'''
        """Uses the stack deploy/local/{STACK_SCRIPT} started."""

        def test_quiet(settings):
            """Reads what deploy/local/{STACK_SCRIPT} configured."""
            assert settings
        '''
    assert reached(source) == frozenset()


def test_a_string_naming_the_script_counts() -> None:
    source = f"""
        import subprocess

        def test_runs_the_script(env):
            subprocess.run(["bash", "deploy/local/{STACK_SCRIPT}", "restart"], env=env)

        def test_other():
            pass
        """
    assert reached(source) == {"test_runs_the_script"}


def test_a_helper_module_elsewhere_makes_its_functions_controls() -> None:
    helper = """
        from outcome_pulse.streams.cli.processes import run_stack_script as rss

        def restart_kafka(settings):
            rss(settings, "restart", "kafka")

        def outer(settings):
            restart_kafka(settings)

        def unrelated():
            pass
        """
    controls = helper_controls([textwrap.dedent(helper)])
    assert {"restart_kafka", "outer"} <= controls and "unrelated" not in controls
    user = """
        from tests.support.somewhere import outer

        def test_uses_it(settings):
            outer(settings)
        """
    assert "test_uses_it" in reached(user, controls)


def test_an_unmarked_test_that_reaches_a_control_is_reported_and_a_marked_one_is_not() -> None:
    source = textwrap.dedent(
        """
        def bounce(settings):
            run_stack_script(settings, "restart", "kafka")

        def test_a(settings):
            bounce(settings)

        def test_b(settings):
            bounce(settings)

        def test_c(settings):
            bounce(settings)

        def test_d(settings):
            pass
        """
    )
    path = Path("/x/test_m.py")
    read = {path: module_use(source)}

    def item(name: str, *markers: str) -> Collected:
        return Collected(f"test_m.py::{name}", path, name, frozenset(markers))

    tests = [
        item("test_a"),
        item("test_b", EXCLUSIVE),
        item("test_c", PRIVATE_STACK),
        item("test_d"),
        item("test_d", EXCLUSIVE, PRIVATE_STACK),
    ]
    problems = unmarked(tests, STACK_CONTROLS, read)
    assert len(problems) == 2
    assert problems[0].startswith("test_m.py::test_a reaches a stack control")
    assert problems[1] == f"test_m.py::test_d: marked both {EXCLUSIVE} and {PRIVATE_STACK}"


def test_the_real_tree_marks_the_fault_tests_that_restart_the_stack() -> None:
    helpers = [p.read_text() for p in sorted(TESTS.rglob("*.py")) if not p.name.startswith("test_")]
    controls = helper_controls(helpers)
    faults = reached((TESTS / "e2e" / "test_faults.py").read_text(), controls)
    assert {
        "test_broker_restart_mid_replay_loses_and_duplicates_nothing",
        "test_database_outage_of_30_seconds_loses_and_duplicates_nothing",
    } <= faults
    assert "test_worker_killed_three_times_loses_and_duplicates_nothing" not in faults


def test_collecting_an_unmarked_restart_fails_before_anything_runs(tmp_path: Path) -> None:
    """The conftest hook on a real collection, in a copy of the test tree's root (conftest and
    support modules) under ``tmp_path``: a module that restarts Kafka without the marker makes
    ``pytest --collect-only`` fail with the test named. (That a marked one collects, the real
    tests/e2e/test_faults.py shows in every run.)"""
    tree = tmp_path / "tests"
    shutil.copytree(TESTS / "support", tree / "support")
    for name in ("__init__.py", "conftest.py"):
        shutil.copy(TESTS / name, tree / name)
    (tree / "e2e").mkdir()
    (tree / "e2e" / "__init__.py").write_text("")
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\naddopts = --strict-markers\nmarkers =\n    {EXCLUSIVE}\n    {PRIVATE_STACK}\n"
    )
    module = tree / "e2e" / "test_restarts.py"

    module.write_text(
        "from outcome_pulse.streams.cli.processes import run_stack_script\n\n\n"
        "def test_restarts(settings):\n"
        "    run_stack_script(settings, 'restart', 'kafka')\n\n\n"
        "def test_quiet(settings):\n"
        "    assert settings\n",
        encoding="utf-8",
    )
    refused = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=tmp_path,
        # Not the caller's pytest options (a --basetemp above tmp_path would be refused).
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = refused.stdout + refused.stderr
    assert refused.returncode == 4, out  # pytest's usage error
    assert "tests/e2e/test_restarts.py::test_restarts reaches a stack control" in out
    assert "test_quiet reaches" not in out  # the module's other test restarts nothing
