"""The default state directory is outside the checkout (PostgreSQL's user must reach it from a
clone in a 0700 home), the same in Python and in the stack scripts; retention is a setting."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from outcome_pulse.streams.settings import REPO_ROOT, PulseSettings, default_state_root

COMMON = REPO_ROOT / "deploy" / "local" / "common.sh"


def bash_default(variable: str, repo_common: Path = COMMON) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    done = subprocess.run(
        ["bash", "-c", f'source "{repo_common}"; printf %s "${variable}"'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_python_and_the_stack_scripts_agree_on_the_default_state_dir() -> None:
    assert bash_default("PULSE_STATE_DIR") == str(default_state_root() / "stack")
    assert PulseSettings.model_fields["state_dir"].default == default_state_root() / "stack"


def test_the_default_state_dir_is_outside_the_checkout_and_per_checkout() -> None:
    root = default_state_root()
    assert root.parent == Path("/var/tmp/outcome-pulse")
    assert REPO_ROOT not in root.parents
    assert default_state_root(Path("/root/elsewhere")) != root


@pytest.mark.parametrize(
    ("text", "policy"),
    [("keep", "keep"), ("none", None), ("730d", timedelta(days=730)), (" NONE ", None)],
)
def test_retention_setting(text: str, policy: object) -> None:
    assert PulseSettings(retention=text).retention_policy == policy


def test_retention_setting_default_leaves_the_policy_alone() -> None:
    assert PulseSettings.model_fields["retention"].default == "keep"


def test_a_bad_retention_setting_says_what_is_expected() -> None:
    with pytest.raises(ValidationError, match="expected keep, none, or a duration"):
        PulseSettings(retention="forever")
