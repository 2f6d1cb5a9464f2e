"""Small helpers over ``grafana-foundation-sdk``: a grid that places panels without overlap,
threshold steps, SQL literals, and the panel kinds the dashboards use."""

from __future__ import annotations

from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import stat, table, text, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import text as text_m
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    GridPos,
    Threshold,
    ThresholdsMode,
)

GRID_WIDTH = 24


@dataclass
class Grid:
    """Places panels left to right, then on the next line (Grafana's grid is 24 columns)."""

    x: int = 0
    y: int = 0
    line_height: int = 0
    placed: list[GridPos] = field(default_factory=list)

    def place(self, w: int, h: int) -> GridPos:
        if not 0 < w <= GRID_WIDTH:
            raise ValueError(f"panel width {w} is outside 1..{GRID_WIDTH}")
        if self.x + w > GRID_WIDTH:
            self.newline()
        pos = GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.line_height = max(self.line_height, h)
        self.placed.append(pos)
        return pos

    def newline(self) -> None:
        if self.x:
            self.y += self.line_height
        self.x, self.line_height = 0, 0


def literal(value: str) -> str:
    """A SQL string literal (quotes doubled): for ids from validated contract files."""
    return "'" + value.replace("'", "''") + "'"


def level_thresholds(target: float, minimum: float) -> dash_b.ThresholdsConfig:
    """Red below the minimum, orange below the target, green at or past it; reversed when a lower
    measure is better (trend KPIs, whose target is below their minimum)."""
    if target >= minimum:
        steps = [
            Threshold(value=None, color="red"),
            Threshold(value=minimum, color="orange"),
            Threshold(value=target, color="green"),
        ]
    else:
        steps = [
            Threshold(value=None, color="green"),
            Threshold(value=target, color="orange"),
            Threshold(value=minimum, color="red"),
        ]
    return dash_b.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def fixed_thresholds(color: str) -> dash_b.ThresholdsConfig:
    return (
        dash_b.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=None, color=color)])
    )


Target = cogbuilder.Builder[cogvariants.Dataquery]


def stat_panel(
    title: str,
    ds: DataSourceRef,
    target: Target,
    pos: GridPos,
    *,
    unit: str = "none",
    description: str = "",
    all_values: bool = False,
) -> stat.Panel:
    reduce = common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(all_values)
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(ds)
        .with_target(target)
        .grid_pos(pos)
        .unit(unit)
        .reduce_options(reduce)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .orientation(common.VizOrientation.AUTO)
    )


def table_panel(
    title: str, ds: DataSourceRef, target: Target, pos: GridPos, *, description: str = ""
) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(ds)
        .with_target(target)
        .grid_pos(pos)
        .show_header(True)
        .filterable(True)
    )


def timeseries_panel(
    title: str,
    ds: DataSourceRef,
    targets: list[Target],
    pos: GridPos,
    *,
    unit: str = "none",
    description: str = "",
    bars: bool = False,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(ds)
        .targets(targets)
        .grid_pos(pos)
        .unit(unit)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .line_width(2)
        .fill_opacity(10)
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    return panel


def text_panel(title: str, content: str, pos: GridPos) -> text.Panel:
    return text.Panel().title(title).mode(text_m.TextMode.MARKDOWN).content(content).grid_pos(pos)
