"""SQL queries for Grafana's PostgreSQL datasource, as ``grafana-foundation-sdk`` dataqueries.

The SDK has no builder for SQL datasources; Grafana stores a code-mode SQL query as
``{refId, datasource, rawSql, format, rawQuery, editorMode}``, which these classes emit.
"""

from __future__ import annotations

import textwrap
from typing import Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import AnnotationTarget, DataSourceRef

Format = Literal["table", "time_series"]


class SqlQuery(cogvariants.Dataquery):
    def __init__(
        self, raw_sql: str, ref_id: str, datasource: DataSourceRef, fmt: Format = "table"
    ) -> None:
        self.raw_sql = raw_sql
        self.ref_id = ref_id
        self.datasource = datasource
        self.format = fmt

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": self.datasource.to_json(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    """A builder of one SQL target; the SQL is dedented and stripped."""

    def __init__(
        self, raw_sql: str, datasource: DataSourceRef, *, ref_id: str = "A", fmt: Format = "table"
    ) -> None:
        self._internal = SqlQuery(clean(raw_sql), ref_id, datasource, fmt)

    def build(self) -> cogvariants.Dataquery:
        return self._internal


class SqlAnnotationTarget(AnnotationTarget):
    """An annotation's query on a SQL datasource (time, timeend, text, tags columns)."""

    def __init__(self, raw_sql: str, datasource: DataSourceRef) -> None:
        super().__init__()
        self.query = SqlQuery(clean(raw_sql), "Anno", datasource, "table")

    def to_json(self) -> dict[str, object]:
        return self.query.to_json()


def clean(raw_sql: str) -> str:
    return textwrap.dedent(raw_sql).strip()


class SqlAnnotation(cogbuilder.Builder[AnnotationTarget]):
    def __init__(self, raw_sql: str, datasource: DataSourceRef) -> None:
        self._internal = SqlAnnotationTarget(raw_sql, datasource)

    def build(self) -> AnnotationTarget:
        return self._internal
