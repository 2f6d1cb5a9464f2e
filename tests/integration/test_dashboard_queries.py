"""Every SQL of every generated dashboard, run as Grafana would run it, on a database holding two
clients' replays (``two_clients``); and the tenant isolation PostgreSQL enforces.

Grafana's macros and template variables are expanded by ``dashboards.macros`` (variables set to
"All": every value their own query returns), on plain PostgreSQL and in the TimescaleDB flavour
(``time_bucket``, which a test-only SQL function spells as ``date_bin`` with TimescaleDB's
origin, as STACK.md describes). Provider dashboards run as the provider's role, client
dashboards as the client's role.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import errors

from outcome_pulse.dashboards import macros
from outcome_pulse.dashboards import queries as q
from outcome_pulse.dashboards.generate import dashboards
from outcome_pulse.processors.periods import period_label
from outcome_pulse.processors.tenancy import client_dashboard_uid
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.queries import schema_uses_timescaledb
from tests.integration import two_clients
from tests.integration.pgdb import temporary_database
from tests.integration.two_clients import CLIENT_A, CLIENT_B, TwoClients

pytestmark = pytest.mark.integration

TIME_BUCKET_AS_DATE_BIN = """
CREATE FUNCTION public.time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date_bin(bucket_width, ts, '2000-01-03') $$
"""

COUNTS = "SELECT (SELECT count(*) FROM pulse_period_outcomes), (SELECT count(*) FROM pulse_tenants)"
HOSTILE = (
    "'",
    "x'; DROP TABLE pulse_period_outcomes; --",
    "') OR true OR ('",
    "helpdesk-tickets-rival",
    "$__timeFilter(contract)",
    "$__timeFilter(' OR true OR ')",
    "$__timeFrom()",
    "${contract}",
    "[[kpi]]",
    "\\'; SELECT pg_sleep(0); --",
)


@pytest.fixture(scope="module")
def db(pg_dsn: str) -> Iterator[TwoClients]:
    with temporary_database(pg_dsn) as dsn:
        yield from two_clients.build(pg_dsn, dsn)


@pytest.fixture(scope="module")
def boards(db: TwoClients) -> dict[str, dict[str, Any]]:
    return dashboards([db.a, db.b])


@pytest.fixture(scope="module")
def span(db: TwoClients) -> macros.TimeRange:
    start = two_clients.newest(db.dsn, "SELECT min(at) FROM pulse_indicator_points")
    end = two_clients.newest(db.dsn, "SELECT max(at) FROM pulse_indicator_points")
    return macros.TimeRange(start - timedelta(days=1), end + timedelta(days=1))


# -- helpers -------------------------------------------------------------------------------------


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, SQL) of every panel target and annotation of a dashboard."""
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if "rawSql" in target:
                found.append((f"{board['uid']} panel {panel['title']!r}", target["rawSql"]))
    for annotation in board.get("annotations", {}).get("list", []):
        target = annotation.get("target", {})
        if "rawSql" in target:
            found.append((f"{board['uid']} annotation {annotation['name']!r}", target["rawSql"]))
    return found


def run(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def resolve_variables(
    board: dict[str, Any], dsn: str, span: macros.TimeRange
) -> dict[str, macros.Variable]:
    """Each query variable set to "All" of what its query returns (in dashboard order)."""
    values: dict[str, macros.Variable] = {}
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "constant":
            values[variable["name"]] = macros.Variable((variable["query"],), multi=False)
            continue
        sql = macros.render(variable["query"], span, values)
        found = tuple(str(row[0]) for row in run(dsn, sql))
        assert found, f"{board['uid']}: variable {variable['name']} has no values"
        values[variable["name"]] = macros.Variable(found)
    return values


def board_of(boards: dict[str, dict[str, Any]], uid: str) -> dict[str, Any]:
    return next(b for b in boards.values() if b["uid"] == uid)


def reader(db: TwoClients, board: dict[str, Any]) -> str:
    if "client" in board["tags"]:
        client = next(t for t in board["tags"] if t in (CLIENT_A, CLIENT_B))
        return db.as_role(client)
    return db.as_role("provider")


# -- every panel returns rows --------------------------------------------------------------------


@pytest.mark.parametrize("timescaledb", [False, True], ids=["plain", "timescaledb"])
def test_every_panel_query_returns_rows(
    db: TwoClients, boards: dict[str, dict[str, Any]], span: macros.TimeRange, timescaledb: bool
) -> None:
    if timescaledb:
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute("DROP FUNCTION IF EXISTS public.time_bucket(interval, timestamptz)")
            conn.execute(TIME_BUCKET_AS_DATE_BIN)
    checked = 0
    for board in boards.values():
        if not queries(board):
            continue  # pipeline health: PromQL (test_dashboard_promql)
        dsn = reader(db, board)
        variables = resolve_variables(board, dsn, span)
        for where, sql in queries(board):
            for interval in ("1d", "1h"):
                text = macros.render(
                    sql, span, variables, interval=interval, timescaledb=timescaledb
                )
                assert ("time_bucket(" in text) == (timescaledb and "$__timeGroup" in sql), where
                rows = run(dsn, text)
                assert rows, f"{where} returned no rows ({interval}):\n{text}"
                checked += 1
    assert checked >= 2 * 20


def test_both_flavours_bucket_alike(
    db: TwoClients, boards: dict[str, dict[str, Any]], span: macros.TimeRange
) -> None:
    board = board_of(boards, "pulse-service-owner")
    dsn = db.as_role("provider")
    variables = resolve_variables(board, dsn, span)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("DROP FUNCTION IF EXISTS public.time_bucket(interval, timestamptz)")
        conn.execute(TIME_BUCKET_AS_DATE_BIN)
    for where, sql in queries(board):
        if "$__timeGroup" not in sql:
            continue
        plain = run(dsn, macros.render(sql, span, variables, interval="1d"))
        ts = run(dsn, macros.render(sql, span, variables, interval="1d", timescaledb=True))
        # Floats to 12 decimals: an average of floats depends on the order the plan adds them.
        assert [_rounded((r[0], *r[1:])) for r in plain] == [
            _rounded((r[0].timestamp(), *r[1:])) for r in ts
        ], where


def _rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(v, 12) if isinstance(v, float) else v for v in row)


# -- tenant isolation ----------------------------------------------------------------------------


def test_the_monitor_registered_both_contracts_with_their_clients(db: TwoClients) -> None:
    rows = run(db.dsn, "SELECT contract, client FROM pulse_contracts ORDER BY 1")
    assert rows == [(db.a.contract, CLIENT_A), (db.b.contract, CLIENT_B)]


@pytest.mark.parametrize("me,other", [(CLIENT_A, CLIENT_B), (CLIENT_B, CLIENT_A)])
def test_a_clients_panels_show_its_rows_and_none_of_the_others(
    db: TwoClients, boards: dict[str, dict[str, Any]], span: macros.TimeRange, me: str, other: str
) -> None:
    mine = board_of(boards, client_dashboard_uid(me))
    theirs = board_of(boards, client_dashboard_uid(other))
    my_dsn = db.as_role(me)
    variables = resolve_variables(mine, my_dsn, span)
    own_contract = db.a.contract if me == CLIENT_A else db.b.contract
    assert variables["contract"].values == (own_contract,)
    for where, sql in queries(mine):
        text = macros.render(sql, span, variables, interval="1d")
        as_me = run(my_dsn, text)
        assert as_me, f"{where}: no rows as {me}"
        # The provider sees everything; the client's own SQL already filters to its client, so
        # its role must see exactly what the provider sees: all its rows, nothing else. Floats
        # to 12 digits: the row-level security filter changes the plan, and with it the order a
        # sum adds its terms in (0.6118326118326118 against ...117 seen in a run).
        as_provider = run(db.as_role("provider"), text)
        assert [_rounded(r) for r in as_me] == [_rounded(r) for r in as_provider], where
    # The other client's dashboard, with the other client's variable values, read through my
    # role: PostgreSQL returns nothing.
    their_values = resolve_variables(theirs, db.as_role(other), span)
    for where, sql in queries(theirs):
        text = macros.render(sql, span, their_values, interval="1d")
        rows = run(my_dsn, text)
        totals_only = all(v in (0, None) for row in rows for v in row)
        assert not rows or totals_only, f"{where} as {me} returned {other}'s rows: {rows[:3]}"


def test_select_star_on_every_table_shows_a_client_nothing_of_another(db: TwoClients) -> None:
    relations = run(
        db.dsn,
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1",
    )
    assert len(relations) > 15
    mine = {db.a.contract, CLIENT_A, db.roles[CLIENT_A]}
    theirs = {db.b.contract, CLIENT_B, db.roles[CLIENT_B]}
    readable, denied = [], []
    for name, _kind in relations:
        try:
            with psycopg.connect(db.as_role(CLIENT_A)) as conn:
                cur = conn.execute(f'SELECT * FROM "{name}"')
                columns = [d.name for d in cur.description or []]
                rows = cur.fetchall()
        except errors.InsufficientPrivilege:
            denied.append(name)
            continue
        readable.append(name)
        assert rows, f"{name}: {CLIENT_A} sees none of its own rows"
        keys = [i for i, c in enumerate(columns) if c in ("contract", "client", "role_name")]
        assert keys, f"{name} is readable by clients but has no contract/client column"
        for row in rows:
            values = {row[i] for i in keys}
            assert values & mine and not values & theirs, f"{name}: {row}"
    assert sorted(readable) == [
        "pulse_contracts",
        "pulse_indicator_points",
        "pulse_period_forecasts",
        "pulse_period_outcomes",
        "pulse_tenants",
    ]
    assert {"pulse_events", "pulse_item_states", "pulse_open_item_clocks", "pulse_alerts"} <= set(
        denied
    )


def test_the_provider_sees_every_client(db: TwoClients) -> None:
    rows = run(db.as_role("provider"), "SELECT DISTINCT contract FROM pulse_period_outcomes")
    assert sorted(r[0] for r in rows) == sorted([db.a.contract, db.b.contract])
    assert run(db.as_role("provider"), "SELECT count(*) FROM pulse_events")[0][0] > 20_000


def test_hostile_variable_values_change_nothing(
    db: TwoClients, boards: dict[str, dict[str, Any]], span: macros.TimeRange
) -> None:
    mine = board_of(boards, client_dashboard_uid(CLIENT_A))
    dsn = db.as_role(CLIENT_A)
    honest = resolve_variables(mine, dsn, span)
    counts_before = run(
        db.dsn,
        COUNTS,
    )
    refused = ran = 0
    for name in ("contract", "kpi"):
        for value in HOSTILE:
            for multi in (True, False):
                variables = {**honest, name: macros.Variable((value,), multi=multi)}
                for where, sql in queries(mine):
                    try:
                        text = macros.render(sql, span, variables, interval="1d")
                    except macros.MacroError:
                        refused += 1  # Grafana refuses the query too
                        continue
                    try:
                        rows = run(dsn, text)
                    except psycopg.Error:
                        refused += 1  # a syntax error, or no privilege: nothing read or changed
                        continue
                    ran += 1
                    flat = {v for row in rows for v in row}
                    assert db.b.contract not in flat and CLIENT_B not in flat, (where, value)
    assert ran and refused
    assert run(db.dsn, "SELECT to_regclass('pulse_period_outcomes') IS NOT NULL") == [(True,)]
    assert (
        run(
            db.dsn,
            COUNTS,
        )
        == counts_before
    )


def test_the_timescaledb_flag_follows_the_schema(db: TwoClients, pg_dsn: str) -> None:
    recorded = run(db.dsn, "SELECT bool_or(timescaledb) FROM pulse_schema_version")[0][0]
    assert schema_uses_timescaledb(db.dsn) is recorded
    with temporary_database(pg_dsn) as empty, pytest.raises(SinkError):
        schema_uses_timescaledb(empty)


def test_period_names_in_sql_are_the_engines(db: TwoClients) -> None:
    zones = {c.contract: c.client.time_zone for c in (db.a, db.b)}
    rows = run(
        db.dsn,
        f"SELECT o.period, o.period_start, o.period_end, {q.period_label('o', zones)}, "
        f"{q.settled_month('o', zones)}, o.contract FROM pulse_period_outcomes o",
    )
    kinds = {kind for kind, *_ in rows}
    assert {"month", "quarter"} <= kinds, kinds
    for kind, start, end, label, month, contract in rows:
        zone = ZoneInfo(zones[contract])
        assert label == period_label(kind, start, end, zone), (kind, start, end)
        assert month == ((end.astimezone(zone) - timedelta(days=1)).strftime("%Y-%m"))


def test_a_late_event_annotation_names_the_event_by_source_and_id(
    db: TwoClients, span: macros.TimeRange
) -> None:
    """An event id is unique only within its source (CloudEvents), so the annotation says both."""
    stored = run(db.dsn, "SELECT source, event_id FROM pulse_late_events")
    assert stored
    clients = {"client": macros.Variable((CLIENT_A, CLIENT_B))}
    texts = [row[1] for row in run(db.dsn, macros.render(q.LATE_ANNOTATIONS, span, clients))]
    assert len(texts) == len(stored)
    for source, event_id in stored:
        assert any(t.startswith(f"late event {event_id} from {source} (") for t in texts), texts
