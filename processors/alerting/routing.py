"""Alertmanager routing generated from the contracts' service owners (``alertmanager.yml``).

Every service of every contract gets one receiver, named ``<contract>/<service>``, with its
owner's destinations (email, Slack, webhook; resolved notifications on), and one route matching
``contract`` and ``service``. Alerts that match no service go to ``pulse-unrouted``, which sends
nothing, so nothing is routed to a person by accident. Groups are per alert name, contract,
service and KPI: the item alerts of one KPI arrive together. The result is a plain mapping for
``yaml.safe_dump``; ``amtool check-config`` and ``amtool config routes test`` check it in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.errors import ConfigError

UNROUTED = "pulse-unrouted"
GROUP_BY = ["alertname", "contract", "service", "kpi"]


@dataclass(frozen=True, slots=True)
class RoutingOptions:
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    smtp_smarthost: str = "localhost:25"
    smtp_from: str = "outcome-pulse@localhost"
    smtp_require_tls: bool = False
    slack_api_url: str | None = None
    """Slack incoming-webhook URL for destinations given as a channel (``#ops``)."""


def receiver_name(contract: str, service: str) -> str:
    return f"{contract}/{service}"


def alertmanager_config(
    contracts: Sequence[Contract], options: RoutingOptions = RoutingOptions()
) -> dict[str, Any]:
    seen: dict[str, str] = {}
    receivers: list[dict[str, Any]] = [{"name": UNROUTED}]
    routes: list[dict[str, Any]] = []
    uses_email = False
    for contract in contracts:
        if contract.contract in seen:
            raise ConfigError(
                f"contract {contract.contract!r} is given twice; expected each contract once"
            )
        seen[contract.contract] = contract.contract
        for service_id, service in contract.services.items():
            name = receiver_name(contract.contract, service_id)
            receiver: dict[str, Any] = {"name": name}
            for index, dest in enumerate(service.owner.alerts):
                where = f"contract {contract.contract}: services.{service_id}.owner.alerts[{index}]"
                if dest.email:
                    uses_email = True
                    receiver.setdefault("email_configs", []).append(
                        {"to": dest.email, "send_resolved": True}
                    )
                elif dest.slack:
                    receiver.setdefault("slack_configs", []).append(
                        _slack(dest.slack, options, where)
                    )
                elif dest.webhook:
                    receiver.setdefault("webhook_configs", []).append(
                        {"url": dest.webhook, "send_resolved": True}
                    )
            receivers.append(receiver)
            routes.append(
                {
                    "receiver": name,
                    "matchers": [
                        f'contract="{contract.contract}"',
                        f'service="{service_id}"',
                    ],
                }
            )
    config: dict[str, Any] = {"global": {"resolve_timeout": "5m"}}
    if uses_email:
        config["global"].update(
            {
                "smtp_smarthost": options.smtp_smarthost,
                "smtp_from": options.smtp_from,
                "smtp_require_tls": options.smtp_require_tls,
            }
        )
    config["route"] = {
        "receiver": UNROUTED,
        "group_by": GROUP_BY,
        "group_wait": options.group_wait,
        "group_interval": options.group_interval,
        "repeat_interval": options.repeat_interval,
        "routes": routes,
    }
    config["receivers"] = receivers
    return config


def _slack(destination: str, options: RoutingOptions, where: str) -> dict[str, Any]:
    if destination.startswith("https://"):
        return {"api_url": destination, "send_resolved": True}
    if options.slack_api_url is None:
        raise ConfigError(
            f"{where}: sends alerts to the Slack channel {destination}, which needs a Slack "
            "incoming-webhook URL: give --slack-api-url (or PULSE_SLACK_API_URL)"
        )
    return {"api_url": options.slack_api_url, "channel": destination, "send_resolved": True}


__all__ = ["GROUP_BY", "UNROUTED", "RoutingOptions", "alertmanager_config", "receiver_name"]
