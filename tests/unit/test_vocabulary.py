"""The vocabulary is complete: every table the migrations create has its name in ``Table``."""

from __future__ import annotations

import re
from importlib import resources

from outcome_pulse.sinks.tables import Table

_CREATED = re.compile(r"CREATE\s+(?:MATERIALIZED\s+)?(?:TABLE|VIEW)\s+(?:IF NOT EXISTS\s+)?(\w+)")


def test_every_table_and_view_of_the_migrations_is_named_in_the_vocabulary() -> None:
    sql = resources.files("outcome_pulse.sinks") / "sql"
    created = {
        name
        for path in sql.iterdir()
        if path.name.endswith(".sql")
        for name in _CREATED.findall(path.read_text(encoding="utf-8"))
    }
    assert created == {t.value for t in Table}


def test_every_indicator_name_has_its_help_text_and_no_other() -> None:
    from outcome_pulse.processors.vocabulary import INDICATOR_HELP, IndicatorName

    assert set(INDICATOR_HELP) == {name.value for name in IndicatorName}
