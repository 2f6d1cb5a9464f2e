"""Reading contract files: the file and YAML side of ``outcome_pulse.processors.contract``.

``load_contract(path)`` reads a YAML file and validates it; every problem raises ``ConfigError``
naming the file, the field path (``objectives[0].outcomes[1].kpis[0].targets.P2``) and what was
expected. YAML that repeats a key is rejected too (PyYAML would silently keep the last one, and
a contract with money attached must not mean something its author did not see).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from outcome_pulse.processors.contract import Contract, parse_contract
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.file_import.mapping import yaml_where


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
    """Read and validate a contract file; raises ``ConfigError`` saying what is wrong where."""
    path = Path(path)
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
