"""The distribution's layout: every folder of the packages is listed, data ships with them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.contract_files import example_contracts, load_contract
from outcome_pulse.streams.file_import.mapping import builtin_mappings

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _folders(package_dir: dict[str, str]) -> set[str]:
    """Every package the mapped folders hold: each folder under them."""
    found = set()
    for package, folder in package_dir.items():
        root = REPO / folder
        for path in [root, *root.rglob("*")]:
            if not path.is_dir() or path.name == "__pycache__":
                continue
            found.add(".".join([package, *path.relative_to(root).parts]))
    return found


def _under_recursive_data(package: str, data: dict[str, list[str]]) -> bool:
    """True when an ancestor package ships this folder with a ``dir/**`` data pattern."""
    for owner, patterns in data.items():
        for pattern in patterns:
            if "**" in pattern and package.startswith(f"{owner}.{pattern.split('/')[0]}"):
                return True
    return False


def test_the_package_list_holds_every_folder_of_the_mapped_packages() -> None:
    config = PYPROJECT["tool"]["setuptools"]
    data = config["package-data"]
    folders = _folders(config["package-dir"])
    required = {f for f in folders if not _under_recursive_data(f, data)}
    assert required - set(config["packages"]) == set(), "folders missing from the package list"
    assert set(config["packages"]) - folders == set(), "listed packages without a folder"


def test_each_data_folder_ships_its_files() -> None:
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert data["outcome_pulse.sinks.sql"] == ["*.sql"]
    assert data["outcome_pulse.sinks.sql.dml"] == ["*.sql"]
    assert data["outcome_pulse.streams.file_import.mappings"] == ["*.yaml"]
    assert data["outcome_pulse.contracts"] == ["*.yaml"]
    assert data["outcome_pulse.contracts.scenarios"] == ["*.yaml"]


def test_the_license_is_an_spdx_string_and_kafka_python_only_a_bench_extra() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert not any(d.startswith("kafka-python") for d in project["dependencies"])
    assert any(d.startswith("kafka-python") for d in project["optional-dependencies"]["bench"])


def test_example_contracts_and_built_in_mappings_are_found_by_name() -> None:
    assert example_contracts() == ["bpic2013_incidents", "helpdesk_tickets", "scms_orders"]
    assert builtin_mappings() == ["bpic2013", "helpdesk", "scms"]
    assert load_contract("scms_orders").contract == "scms-orders"


def test_an_unknown_example_name_lists_the_examples() -> None:
    with pytest.raises(ConfigError, match="examples: bpic2013_incidents, helpdesk_tickets"):
        load_contract("no_such_contract")
