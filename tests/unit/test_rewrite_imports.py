"""scripts/dev/rewrite_imports.py turns an old-layout file into the ``outcome_pulse.*`` layout."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev" / "rewrite_imports.py"

OLD = '''\
from processors.errors import ConfigError, SinkError
from processors.errors import (
    BrokerError,
    InvalidRecord,
)
from sinks import monitor_statements as m
from streams import adapter, mapping as mp, settings  # noqa
import streams.codecs  # noqa: F401
import sinks.schema
from streams.cli import main
from streams.sandbox import isolated_pipeline


def f(streams):
    streams.append(1)
    sinks.schema.migrate()
    logging.getLogger("sinks.postgres")
    mock.patch("streams.app.create_app")
    subprocess.run([sys.executable, "-m", "streams.cli", "worker"])
"""See ``streams.record_events`` and streams/adapter.py, streams/mappings/bpic2013.yaml."""
'''

NEW = '''\
from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.sinks import monitor_statements as m
from outcome_pulse.streams.file_import import mapped_file as adapter, mapping as mp  # noqa
from outcome_pulse.streams import settings
import outcome_pulse.streams.kafka.codecs  # noqa: F401
import outcome_pulse.sinks.schema
from outcome_pulse.streams.cli.main import main
from tests.support.sandbox import isolated_pipeline


def f(streams):
    streams.append(1)
    outcome_pulse.sinks.schema.migrate()
    logging.getLogger("outcome_pulse.sinks.event_sink")
    mock.patch("outcome_pulse.streams.kafka.app.create_app")
    subprocess.run([sys.executable, "-m", "outcome_pulse.streams.cli.main", "worker"])
"""See ``outcome_pulse.streams.file_import.record_events`` and streams/file_import/mapped_file.py, \
streams/file_import/mappings/bpic2013.yaml."""
'''


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rewrite_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_an_old_layout_file_gets_the_new_paths() -> None:
    assert _script().rewrite(OLD) == NEW


def test_rewriting_twice_changes_nothing() -> None:
    rewrite = _script().rewrite
    assert rewrite(rewrite(OLD)) == rewrite(OLD)


def test_every_moved_module_exists_at_its_new_path() -> None:
    root = SCRIPT.parents[2]
    script = _script()
    for new in [*script.MOVES.values(), *(script.new_module(m) for m in script.KEPT)]:
        relative = new.removeprefix("outcome_pulse.").replace(".", "/")
        assert (root / f"{relative}.py").is_file() or (root / relative).is_dir(), new
