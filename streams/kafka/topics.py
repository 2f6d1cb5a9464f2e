"""Topic definitions, created by the application before any worker starts.

Faust stops a worker whose source topic and table changelog disagree on partition counts, so all
three topics are created here with the configured count, and an existing topic with another
count is reported as a configuration error instead of being used.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.settings import PulseSettings

ITEM_TABLE = "item-states"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def changelog_topic(settings: PulseSettings) -> str:
    """The name faust gives the item table's changelog."""
    return f"{settings.app_id}-{ITEM_TABLE}-changelog"


def topic_specs(settings: PulseSettings) -> list[TopicSpec]:
    return [
        TopicSpec(settings.events_topic, settings.partitions, {}),
        TopicSpec(settings.dead_letter_topic, settings.partitions, {}),
        TopicSpec(changelog_topic(settings), settings.partitions, {"cleanup.policy": "compact"}),
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
                wanted = next(s.partitions for s in specs if s.name == name)
                if count != wanted:
                    raise ConfigError(
                        f"topic {name!r} has {count} partitions but PULSE_PARTITIONS is {wanted}; "
                        "set PULSE_PARTITIONS to match, or use new topic names"
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
