"""Pipeline health, on Prometheus: what the SRE who runs the pipeline watches.

Layout: events/s and consumer lag; dead letters by reason and sink flush latency; event
latency and the contract monitor's round time; late corrections and items tracked; alert
deliveries (Alertmanager's own metrics) and the alerts Alertmanager holds now.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus

from outcome_pulse.dashboards import datasources as ds
from outcome_pulse.dashboards.common import dashboard
from outcome_pulse.dashboards.panels import Grid, timeseries_panel

UID = "pulse-pipeline-health"
TITLE = "Outcome Pulse: pipeline health"

# title, unit, [(PromQL, legend)]
PANELS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Events per second",
        "ops",
        (
            ("sum(rate(pulse_events_total[$__rate_interval]))", "all"),
            ("sum by (type) (rate(pulse_events_total[$__rate_interval]))", "{{type}}"),
        ),
    ),
    (
        "Consumer lag",
        "none",
        (("sum by (partition) (pulse_consumer_lag_messages)", "partition {{partition}}"),),
    ),
    (
        "Dead letters by reason",
        "none",
        (("sum by (reason) (increase(pulse_dead_letters_total[$__rate_interval]))", "{{reason}}"),),
    ),
    (
        "Database flush latency",
        "s",
        (
            (
                "histogram_quantile(0.5, sum by (le) (rate(pulse_sink_flush_seconds_bucket"
                "[$__rate_interval])))",
                "p50",
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(pulse_sink_flush_seconds_bucket"
                "[$__rate_interval])))",
                "p99",
            ),
        ),
    ),
    (
        "Event latency, Kafka record to database row",
        "s",
        (
            (
                "histogram_quantile(0.99, sum by (le) (rate("
                "pulse_event_processing_latency_seconds_bucket[$__rate_interval])))",
                "p99",
            ),
        ),
    ),
    (
        "Contract monitor round time",
        "s",
        (
            (
                "histogram_quantile(0.9, sum by (le) (rate(pulse_monitor_round_seconds_bucket"
                "[$__rate_interval])))",
                "p90",
            ),
            (
                "rate(pulse_monitor_round_seconds_sum[$__rate_interval]) / "
                "rate(pulse_monitor_round_seconds_count[$__rate_interval])",
                "mean",
            ),
        ),
    ),
    (
        "Late events applied as corrections",
        "none",
        (("sum(increase(pulse_late_events_total[$__rate_interval]))", "late events"),),
    ),
    (
        "Items tracked by workers",
        "none",
        (("sum by (instance) (pulse_items_tracked)", "{{instance}}"),),
    ),
    (
        "Alert deliveries (Alertmanager)",
        "ops",
        (
            (
                "sum by (integration) (rate(alertmanager_notifications_total[$__rate_interval]))",
                "sent {{integration}}",
            ),
            (
                "sum by (integration) (rate(alertmanager_notifications_failed_total"
                "[$__rate_interval]))",
                "failed {{integration}}",
            ),
            ("sum(rate(alertmanager_alerts_received_total[$__rate_interval]))", "alerts received"),
        ),
    ),
)


def expressions() -> list[str]:
    return [expr for _, _, queries in PANELS for expr, _ in queries]


def build() -> dash_b.Dashboard:
    prom = ds.prometheus()
    grid = Grid()
    board = (
        dashboard(
            UID,
            TITLE,
            "The pipeline itself: ingest rate, lag, dead letters, database and monitor timings, "
            "alert deliveries.",
            tags=["pipeline"],
        )
        .refresh("30s")
        .time("now-6h", "now")
    )
    for title, unit, queries in PANELS:
        targets = [
            prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i))
            for i, (expr, legend) in enumerate(queries)
        ]
        board = board.with_panel(
            timeseries_panel(title, prom, list(targets), grid.place(12, 8), unit=unit)
        )
    board = board.with_panel(
        dash_b.Panel()
        .type("alertlist")
        .title("Alerts in Alertmanager")
        .datasource(ds.alertmanager())
        .grid_pos(grid.place(12, 8))
        .options(
            {
                "viewMode": "list",
                "groupMode": "default",
                "groupBy": [],
                "maxItems": 50,
                "sortOrder": 1,
                "dashboardAlerts": False,
                "alertName": "",
                "alertInstanceLabelFilter": "",
                "datasource": ds.ALERTMANAGER_UID,
                "stateFilter": {
                    "firing": True,
                    "pending": True,
                    "noData": False,
                    "normal": False,
                    "error": True,
                },
            }
        )
    )
    return board
