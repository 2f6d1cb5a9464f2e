"""The one settings object, built once at the wiring point (the CLI) and passed down.

Every value can be set by an environment variable prefixed ``PULSE_`` (``PULSE_KAFKA_PORT=29092``)
or in a ``.env`` file. Nothing else in the project reads the environment.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from outcome_pulse.processors.quantities import parse_duration

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_BASE = Path("/var/tmp/outcome-pulse")


def default_state_root(repo: Path = REPO_ROOT) -> Path:
    """``/var/tmp/outcome-pulse/<12 hex of sha256(repo path)>``: outside the checkout, where
    PostgreSQL's user can reach its data even when the clone is in a 0700 home (root's); one per
    checkout. deploy/local/common.sh computes the same path."""
    return STATE_BASE / hashlib.sha256(str(repo).encode()).hexdigest()[:12]


class PulseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PULSE_", env_file=".env", frozen=True, extra="ignore"
    )

    # local stack ------------------------------------------------------------------------------
    state_dir: Path = Field(default_state_root() / "stack", description="PID files, logs and data")
    cache_dir: Path = Field(Path.home() / ".cache" / "outcome-pulse", description="Kafka jars")
    kafka_version: str = "3.9.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    pg_port: int = 15432
    pg_database: str = "pulse"
    pg_user: str = "postgres"
    alertmanager_port: int = 19095
    prometheus_port: int = 19090

    data_dir: Path = Field(REPO_ROOT.parent / "shared" / "data", description="the real event logs")

    # input ------------------------------------------------------------------------------------
    max_dead_letter_share: float = Field(
        0.01,
        ge=0,
        le=1,
        description="a replay or backtest whose dead letters exceed this share of its records "
        "stops with an error naming the top reasons (0.01 = 1%)",
    )

    # Kafka ------------------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(None, description="host:port; default 127.0.0.1:kafka_port")
    events_topic: str = "pulse.events"
    dead_letter_topic: str = "pulse.deadletter"
    partitions: int = Field(4, ge=1, le=256)
    evaluation_topic: str = Field(
        "pulse.evaluation",
        description="the topic whose partitions the consumer group assigns as evaluation shards",
    )
    evaluation_partitions: int = Field(
        1,
        ge=1,
        le=256,
        description="evaluation shards: the contracts are spread over them by a hash of their "
        "id, and the workers share them (1: one worker evaluates every contract)",
    )
    app_id: str = "outcome-pulse"
    processing_guarantee: str = "at_least_once"

    item_store: Literal["memory", "rocksdb"] = Field(
        "memory",
        description="where the worker keeps its item table (streams/kafka/item_store.py): memory "
        "(every item's state in RAM, rebuilt from the changelog at each start) or rocksdb (on "
        "disk beside a bounded cache; a restart reads only the changelog written since)",
    )
    item_store_dir: Path | None = Field(
        None,
        description="the RocksDB files of the item table; default <state_dir>/faust/<app_id>/"
        "items (one directory per worker process: RocksDB locks it)",
    )
    item_store_cache_mib: int = Field(
        32,
        ge=1,
        le=64 * 1024,
        description="RocksDB block cache per item-table partition this worker holds, MiB",
    )

    # database ---------------------------------------------------------------------------------
    database_url: str | None = Field(None, description="libpq URL; default the local stack's")
    sink_batch_size: int = Field(2000, ge=1)
    sink_batch_seconds: float = Field(0.5, gt=0)  # unused since the batch drain (issue 9)
    retention: str = Field(
        "keep",
        description="pulse_events retention applied by migrate: keep (leave the database's "
        "policy alone), none (remove any policy) or a duration such as 730d (TimescaleDB only)",
    )

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        text = value.strip().lower()
        if text not in ("keep", "none"):
            try:
                parse_duration(text)
            except ValueError:
                raise ValueError(
                    "expected keep, none, or a duration such as 730d or 8760h"
                ) from None
        return text

    @property
    def retention_policy(self) -> timedelta | Literal["keep"] | None:
        """``retention`` as ``migrate`` takes it."""
        if self.retention == "keep":
            return "keep"
        return None if self.retention == "none" else parse_duration(self.retention)

    # worker -----------------------------------------------------------------------------------
    worker_role: Literal["all", "ingest", "evaluate"] = Field(
        "all",
        description="what a pulse worker process does (streams/kafka/evaluator.py): all (ingest "
        "the events and evaluate the contracts, one process), ingest (events only: another "
        "process evaluates), evaluate (the contracts only, from the database, in a consumer "
        "group of its own: <app_id>-evaluation); the workers of one deployment are either all "
        "'all', or 'ingest' beside 'evaluate'",
    )
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    worker_web_port: int = 6066
    max_event_bytes: int = Field(64 * 1024, ge=1024)
    gc_gen0_threshold: int = Field(
        50_000,
        ge=0,
        description="allocations between the worker's young garbage-collector passes "
        "(streams/kafka/gc_tuning.py; Python's default 700; 0 keeps Python's defaults)",
    )
    contracts: str = Field(
        "", description="contract files the worker monitors, comma-separated (none: no monitoring)"
    )
    monitor_interval: float = Field(2.0, gt=0, description="seconds between contract monitor ticks")
    idle_partition_seconds: float = Field(
        30.0,
        gt=0,
        description="a Kafka partition that stored no records for this long (wall time) does "
        "not hold the contract monitor's watermark back (processors/partition_progress.py); "
        "keep it above the consumer group's session timeout",
    )
    top_risk_items: int = Field(
        20,
        ge=0,
        description="open items per contract exported as pulse_item_breach_probability "
        "(the riskiest first)",
    )
    checkpoint_seconds: float = Field(
        300.0,
        ge=0,
        description="the contract monitor writes its engine checkpoints (what the next owner of "
        "an evaluation shard loads instead of re-deriving every stored event) at most this "
        "often; 0: every round",
    )

    # Grafana (pulse grafana publish) ----------------------------------------------------------
    grafana_token: SecretStr | None = Field(None, description="Grafana API token (service account)")
    grafana_pg_host: str | None = Field(
        None, description="host:port of PostgreSQL as Grafana reaches it; default 127.0.0.1:pg_port"
    )

    # live feeds (pulse ingest http / poll; streams/live) --------------------------------------
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8480
    ingest_max_body_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    feeds_config: Path | None = Field(None, description="the feeds YAML (streams/live/feeds.py)")
    # {"feed name": "secret"} as JSON; never passed on to child processes (excluded from dumps)
    feed_secrets: dict[str, SecretStr] = Field(default_factory=dict, exclude=True)

    # alert delivery (Alertmanager) --------------------------------------------------------------
    alert_delivery: bool = Field(True, description="post the monitor's alerts to Alertmanager")
    alertmanager_url: str | None = Field(None, description="default the local stack's")
    alert_deliver_historic: bool = Field(
        False, description="also deliver alerts of replayed history (event time long past)"
    )
    alert_historic_after: float = Field(
        86_400.0, gt=0, description="seconds behind the wall clock that make history historic"
    )
    alert_resend_seconds: float = Field(60.0, gt=0, description="re-send firing alerts this often")
    alert_min_firing_seconds: float = Field(
        30.0, ge=0, description="an alert posted firing stays so at least this long"
    )
    slack_api_url: str | None = Field(None, description="Slack webhook for #channel receivers")

    @property
    def contract_paths(self) -> list[Path]:
        return [Path(part.strip()) for part in self.contracts.split(",") if part.strip()]

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def alertmanager(self) -> str:
        return self.alertmanager_url or f"http://127.0.0.1:{self.alertmanager_port}"

    @property
    def dsn(self) -> str:
        return self.database_url or (
            f"postgresql://{self.pg_user}@127.0.0.1:{self.pg_port}/{self.pg_database}"
        )

    def as_env(self) -> dict[str, str]:
        """Every set value as PULSE_* variables, to hand this configuration to a child process."""
        return {
            f"PULSE_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }

    def stack_env(self) -> dict[str, str]:
        """The variables the deploy/local scripts read."""
        return {
            "PULSE_STATE_DIR": str(self.state_dir),
            "PULSE_CACHE_DIR": str(self.cache_dir),
            "PULSE_KAFKA_VERSION": self.kafka_version,
            "PULSE_KAFKA_PORT": str(self.kafka_port),
            "PULSE_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "PULSE_PG_PORT": str(self.pg_port),
            "PULSE_PG_DATABASE": self.pg_database,
            "PULSE_ALERTMANAGER_PORT": str(self.alertmanager_port),
            "PULSE_PROMETHEUS_PORT": str(self.prometheus_port),
            "PULSE_METRICS_PORT": str(self.metrics_port),
        }
