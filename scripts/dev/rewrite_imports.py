#!/usr/bin/env python3
"""Rewrite old module paths to the ``outcome_pulse.*`` layout in the files given.

    python scripts/dev/rewrite_imports.py FILE...      rewrite in place, print what changed
    python scripts/dev/rewrite_imports.py --check FILE...   exit 1 if anything would change

The layout moved (issue 8): the import packages became ``outcome_pulse.processors``,
``outcome_pulse.streams`` and ``outcome_pulse.sinks`` (the folders stayed where they were), and
``streams/`` was split into rooms. ``MOVES`` below is the whole table of moved modules; every
other module keeps its name under the ``outcome_pulse.`` prefix.

What is rewritten, in any text file (Python, shell, TOML, Markdown):

* dotted module paths: ``from streams.adapter import map_file``, ``import sinks.schema``,
  ``sinks.schema.migrate(...)``, ``python -m streams.cli``, ``"sinks.postgres"`` logger names,
  mock paths such as ``"streams.app.create_app"``, and mentions in docstrings;
* ``from streams import mapping`` (a package importing one of its modules), split into one
  line per destination when the modules went to different rooms;
* names that moved to another module (``NAME_MOVES``: ``SinkError`` now comes from
  ``outcome_pulse.sinks.errors``), split off their ``from ... import`` line;
* file paths such as ``streams/adapter.py`` and ``streams/mappings/`` (README, comments).

A dotted name is only rewritten when it starts with a module that existed in the old layout, so
``streams.append(x)`` on a local list called ``streams`` is left alone. The script is idempotent:
running it twice changes nothing the second time.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PACKAGES = ("processors", "streams", "sinks", "dashboards")
NEW_ROOT = "outcome_pulse"

# Old module -> new module, for every module that changed more than its ``outcome_pulse.`` prefix.
MOVES: dict[str, str] = {
    # the Kafka side
    "streams.app": "outcome_pulse.streams.kafka.app",
    "streams.codecs": "outcome_pulse.streams.kafka.codecs",
    "streams.topics": "outcome_pulse.streams.kafka.topics",
    "streams.ingest": "outcome_pulse.streams.kafka.ingest",
    "streams.worker": "outcome_pulse.streams.bootstrap",
    # what travels on the wire
    "streams.events": "outcome_pulse.streams.wire.events",
    "streams.deadletter": "outcome_pulse.streams.wire.deadletter",
    # file import and mapping
    "streams.sources": "outcome_pulse.streams.file_import.sources",
    "streams.mapping": "outcome_pulse.streams.file_import.mapping",
    "streams.record_events": "outcome_pulse.streams.file_import.record_events",
    "streams.timestamps": "outcome_pulse.streams.file_import.timestamps",
    "streams.adapter": "outcome_pulse.streams.file_import.mapped_file",
    "streams.mappings": "outcome_pulse.streams.file_import.mappings",
    # drivers of the evaluation
    "streams.replay": "outcome_pulse.streams.drivers.replay",
    "streams.backtest": "outcome_pulse.streams.drivers.backtest",
    "streams.monitor": "outcome_pulse.streams.drivers.monitor",
    # the command line
    "streams.cli": "outcome_pulse.streams.cli.main",
    "streams.backtest_cli": "outcome_pulse.streams.cli.backtest",
    "streams.contract_cli": "outcome_pulse.streams.cli.contract",
    "streams.processes": "outcome_pulse.streams.cli.processes",
    # reading contract files
    "streams.contracts": "outcome_pulse.streams.contract_files",
    # test helpers, out of the shipped package
    "streams.sandbox": "tests.support.sandbox",
    "streams.lag": "tests.support.lag",
    # sinks
    "sinks.postgres": "outcome_pulse.sinks.event_sink",
}

# Names that moved to another module: (new module they were imported from, name) -> new module.
NAME_MOVES: dict[tuple[str, str], str] = {
    ("outcome_pulse.processors.errors", "SinkError"): "outcome_pulse.sinks.errors",
    ("outcome_pulse.processors.errors", "BrokerError"): "outcome_pulse.streams.errors",
    ("outcome_pulse.processors.errors", "StackError"): "outcome_pulse.streams.errors",
    ("outcome_pulse.processors.errors", "SourceApiError"): "outcome_pulse.streams.errors",
    ("outcome_pulse.processors.errors", "ReportError"): "outcome_pulse.streams.errors",
    ("outcome_pulse.sinks.metrics", "IndicatorGauges"): "outcome_pulse.sinks.indicator_metrics",
    (
        "outcome_pulse.processors.evaluation",
        "INDICATOR_HELP",
    ): "outcome_pulse.processors.vocabulary",
}

# Modules of the old layout that kept their name (prefix added).
KEPT: tuple[str, ...] = (
    "streams.settings",
    "processors.calendar",
    "processors.clock_measures",
    "processors.contract",
    "processors.contract_text",
    "processors.errors",
    "processors.evaluation",
    "processors.item_history",
    "processors.item_state",
    "processors.lifecycle",
    "processors.measurements",
    "processors.openslo",
    "processors.periods",
    "processors.quantities",
    "processors.settlement",
    "processors.sla_clock",
    "processors.validation_messages",
    "sinks.metrics",
    "sinks.monitor_statements",
    "sinks.monitor_store",
    "sinks.partitions",
    "sinks.pgerrors",
    "sinks.queries",
    "sinks.row_by_row",
    "sinks.rows",
    "sinks.schema",
    "sinks.session",
    "sinks.statements",
    "sinks.sql",
)


def new_module(old: str) -> str | None:
    """The new path of an old module path (or of a name inside one), None if it is not ours."""
    parts = old.split(".")
    if parts[0] not in PACKAGES:
        return None
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        rest = parts[cut:]
        if head in MOVES:
            return ".".join([MOVES[head], *rest])
        if head in KEPT or (cut == 1 and len(parts) == 1):
            return ".".join([NEW_ROOT, head, *rest])
    return None


def _path_of(module: str) -> str:
    """File path of a module in the repository (``outcome_pulse.`` is not a folder)."""
    module = module.removeprefix(NEW_ROOT + ".")
    return module.replace(".", "/")


PATH_MOVES: dict[str, str] = {}
for _old, _new in MOVES.items():
    _suffix = "/" if _old.endswith("mappings") else ".py"
    PATH_MOVES[_old.replace(".", "/") + _suffix] = _path_of(_new) + _suffix

_FROM_PACKAGE = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<pkg>" + "|".join(PACKAGES) + r") import (?P<names>[^(\n#]+?)"
    r"(?P<comment>[ \t]*#.*)?$",
    re.MULTILINE,
)
_DOTTED = re.compile(r"(?<![\w.])(?:" + "|".join(PACKAGES) + r")(?:\.\w+)+")
_PATHS = re.compile(
    r"(?<![\w/.])(?:" + "|".join(re.escape(p) for p in sorted(PATH_MOVES, key=len)[::-1]) + ")"
)


def _rewrite_from_package(match: re.Match[str]) -> str:
    indent, pkg, comment = match["indent"], match["pkg"], match["comment"] or ""
    groups: dict[str, list[str]] = {}
    for item in match["names"].split(","):
        item = item.strip()
        if not item:
            continue
        name, _, alias = (part.strip() for part in item.partition(" as "))
        target = new_module(f"{pkg}.{name}") or f"{NEW_ROOT}.{pkg}.{name}"
        parent, _, leaf = target.rpartition(".")
        if leaf != name or alias:
            leaf = f"{leaf} as {alias or name}" if (alias or name) != leaf else leaf
        groups.setdefault(parent, []).append(leaf)
    lines = [f"{indent}from {parent} import {', '.join(names)}" for parent, names in groups.items()]
    lines[0] += comment
    return "\n".join(lines)


_FROM_MODULE = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<module>[\w.]+) import "
    r"(?:\((?P<block>[^)]*)\)|(?P<names>[^(\n#]+?))(?P<comment>[ \t]*#.*)?$",
    re.MULTILINE,
)


def _rewrite_moved_names(match: re.Match[str]) -> str:
    module, indent, comment = match["module"], match["indent"], match["comment"] or ""
    items = [i.strip() for i in (match["block"] or match["names"]).split(",") if i.strip()]
    if not any((module, i.split(" as ")[0].strip()) in NAME_MOVES for i in items):
        return match[0]
    groups: dict[str, list[str]] = {}
    for item in items:
        target = NAME_MOVES.get((module, item.split(" as ")[0].strip()), module)
        groups.setdefault(target, []).append(item)
    lines = [f"{indent}from {target} import {', '.join(names)}" for target, names in groups.items()]
    lines[0] += comment
    return "\n".join(lines)


def _rewrite_dotted(match: re.Match[str]) -> str:
    return new_module(match[0]) or match[0]


def rewrite(text: str) -> str:
    """The text with every old module path and file path replaced by its new one."""
    text = _FROM_PACKAGE.sub(_rewrite_from_package, text)
    text = _DOTTED.sub(_rewrite_dotted, text)
    text = _FROM_MODULE.sub(_rewrite_moved_names, text)
    return _PATHS.sub(lambda m: PATH_MOVES[m[0]], text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    files = [Path(a) for a in argv if a != "--check"]
    if not files:
        print(__doc__)
        return 2
    changed = 0
    for path in files:
        old = path.read_text(encoding="utf-8")
        new = rewrite(old)
        if new != old:
            changed += 1
            print(f"{'would rewrite' if check else 'rewrote'} {path}")
            if not check:
                path.write_text(new, encoding="utf-8")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
