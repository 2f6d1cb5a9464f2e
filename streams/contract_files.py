"""Reading contract files: the file and YAML side of ``outcome_pulse.processors.contract``.

``load_contract(path)`` reads a YAML file, or an example contract shipped with the package by
name (``bpic2013_incidents``, ``helpdesk_tickets``, ``scms_orders``: ``contracts/`` in the
repository, package data when installed), and validates it; every problem raises ``ConfigError``
naming the file, the field path (``objectives[0].outcomes[1].kpis[0].targets.P2``) and what was
expected. YAML that repeats a key is rejected too (PyYAML would silently keep the last one, and
a contract with money attached must not mean something its author did not see).
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.file_import.mapping import yaml_where

EXAMPLE_CONTRACTS: Traversable = resources.files("outcome_pulse.contracts")


def example_contracts() -> list[str]:
    """Names of the example contracts shipped with the package."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in EXAMPLE_CONTRACTS.iterdir()
        if p.name.endswith(".yaml")
    )


def example_contract_path(name: str) -> Path:
    """The file of an example contract (installed packages live on the file system)."""
    return Path(str(EXAMPLE_CONTRACTS / f"{name}.yaml"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with the same key twice."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice (first on line {seen[key] + 1}); "
                "expected each key once",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract file (or an example by name); raises ``ConfigError`` saying
    what is wrong where."""
    path = _resolve(Path(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"contract {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"contract {path}: cannot read it: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        raise ConfigError(f"contract {path}: not valid YAML{yaml_where(exc)}") from None
    return parse_contract(data, origin=str(path))


def _resolve(path: Path) -> Path:
    looks_like_name = len(path.parts) == 1 and path.suffix not in (".yaml", ".yml")
    if path.exists() or not looks_like_name:
        return path
    if path.name in example_contracts():
        return example_contract_path(path.name)
    raise ConfigError(
        f"contract {str(path)!r}: no such file and no example contract of that name; "
        f"examples: {', '.join(example_contracts())} (or give the path of a YAML file)"
    )
