"""Topic definitions, created by the application before any worker starts.

Faust stops a worker whose source topic and table changelog disagree on partition counts, so all
topics are created here with the configured counts (the evaluation topic with one partition per
evaluation shard), and an existing topic with another
count is reported as a configuration error instead of being used.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.settings import PulseSettings

ITEM_TABLE = "source-item-states"  # keyed by (source, item id); "item-states" was by id


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    setting: str = "PULSE_PARTITIONS"
    """The setting that gives the partition count (named in a mismatch's error)."""


def changelog_topic(settings: PulseSettings) -> str:
    """The name faust gives the item table's changelog."""
    return f"{settings.app_id}-{ITEM_TABLE}-changelog"


def topic_specs(settings: PulseSettings) -> list[TopicSpec]:
    return [
        TopicSpec(settings.events_topic, settings.partitions, {}),
        TopicSpec(settings.dead_letter_topic, settings.partitions, {}),
        TopicSpec(changelog_topic(settings), settings.partitions, {"cleanup.policy": "compact"}),
        TopicSpec(
            settings.evaluation_topic,
            settings.evaluation_partitions,
            {"cleanup.policy": "compact"},
            "PULSE_EVALUATION_PARTITIONS",
        ),
    ]


async def ensure_topics(settings: PulseSettings) -> list[str]:
    """Create missing topics; return the names created. Raise on a partition-count mismatch."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {settings.bootstrap} ({exc}); is the stack up? `pulse stack up`"
        ) from exc
    try:
        specs = topic_specs(settings)
        existing = {t for t in await admin.list_topics()}
        present = [s.name for s in specs if s.name in existing]
        if present:
            for described in await admin.describe_topics(present):
                name = described["topic"]
                count = len(described["partitions"])
                spec = next(s for s in specs if s.name == name)
                if count != spec.partitions:
                    raise ConfigError(
                        f"topic {name!r} has {count} partitions but {spec.setting} is "
                        f"{spec.partitions}; set {spec.setting} to match, or use new topic names"
                    )
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, replication_factor=1, topic_configs=s.config)
                    for s in missing
                ]
            )
        return [s.name for s in missing]
    except KafkaError as exc:
        raise BrokerError(f"Kafka refused to create topics at {settings.bootstrap}: {exc}") from exc
    finally:
        await admin.close()
