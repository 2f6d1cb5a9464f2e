"""The feeds file: which sources may post (and how they prove it), and which APIs are polled.

    feeds:
      jira-acme:                          # the URL is POST /hooks/jira-acme; the CloudEvents source
        mapping: jira                     # built-in live mapping or a YAML file
        auth: {scheme: hmac_sha256, header: X-Hub-Signature}   # secret: see below
        rate: {per_second: 20, burst: 100}
      servicenow-prod:
        mapping: servicenow
        auth: {scheme: bearer, secret_file: /run/secrets/servicenow-prod}
    polls:
      servicenow-table:
        api: servicenow_table             # or jira_search
        url: https://acme.service-now.com
        table: incident                   # servicenow_table only
        mapping: servicenow
        auth: {scheme: basic, user: pulse-reader}               # or bearer
        page_size: 100
        interval: 60s
        overlap: 5m
        checkpoint: /var/lib/outcome-pulse/servicenow-table.json

A secret is read from ``secret_file`` or, when there is none, from ``PULSE_FEED_SECRETS`` (JSON,
``{"jira-acme": "..."}``) under the feed's name. A feed without a secret is a configuration
error: the receiver never runs a source unauthenticated.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
)

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.quantities import parse_duration
from outcome_pulse.processors.validation_messages import describe_errors
from outcome_pulse.streams.file_import.mapping import yaml_where
from outcome_pulse.streams.live.auth import DEFAULT_SIGNATURE_HEADER, FeedAuth
from outcome_pulse.streams.live.json_mapping import LiveMapping, load_live_mapping


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


# "90s", "5m", "1h30m", an ISO 8601 duration, or a number of seconds
Duration = Annotated[timedelta, BeforeValidator(_duration)]

FeedName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Section):
    scheme: Literal["hmac_sha256", "bearer"]
    header: str = DEFAULT_SIGNATURE_HEADER
    secret_file: Path | None = None


class RateConfig(_Section):
    per_second: float = Field(10.0, gt=0)
    burst: int = Field(50, ge=1)


class FeedConfig(_Section):
    mapping: str
    auth: AuthConfig
    rate: RateConfig = RateConfig()


class PollAuthConfig(_Section):
    scheme: Literal["basic", "bearer"]
    user: str | None = None
    secret_file: Path | None = None


class PollConfig(_Section):
    api: Literal["servicenow_table", "jira_search"]
    url: str
    mapping: str
    auth: PollAuthConfig | None = None
    table: str = "incident"
    jql: str = Field("", description="extra JQL, ANDed before the updated >= condition")
    page_size: int = Field(100, ge=1, le=10_000)
    interval: Duration = timedelta(seconds=60)
    overlap: Duration = timedelta(minutes=5)
    start: str | None = Field(None, description="ISO time to start from without a checkpoint")
    checkpoint: Path


class FeedsFile(_Section):
    feeds: dict[FeedName, FeedConfig] = Field(default_factory=dict)
    polls: dict[FeedName, PollConfig] = Field(default_factory=dict)


class Feed:
    """One configured webhook source, ready to use: its mapping, its auth and its rate."""

    def __init__(self, name: str, mapping: LiveMapping, auth: FeedAuth, rate: RateConfig) -> None:
        self.name = name
        self.mapping = mapping
        self.auth = auth
        self.rate = rate


def load_feeds_file(path: Path) -> FeedsFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"feeds file {path}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"feeds file {path}: not valid YAML{yaml_where(exc)}") from None
    try:
        return FeedsFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        lines = describe_errors(exc, FeedsFile)
        raise ConfigError(f"feeds file {path} is invalid:\n  " + "\n  ".join(lines)) from None


def read_secret(name: str, secret_file: Path | None, secrets: dict[str, SecretStr]) -> SecretStr:
    """The secret of feed ``name``: its file (stripped of a final newline) or PULSE_FEED_SECRETS."""
    if secret_file is not None:
        try:
            text = secret_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"feed {name}: cannot read its secret_file {secret_file}: {exc}"
            ) from None
        if not text:
            raise ConfigError(f"feed {name}: its secret_file {secret_file} is empty")
        return SecretStr(text)
    secret = secrets.get(name)
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            f"feed {name}: no secret; set auth.secret_file or PULSE_FEED_SECRETS "
            f'(JSON: {{"{name}": "..."}})'
        )
    return secret


def webhook_feeds(config: FeedsFile, secrets: dict[str, SecretStr]) -> dict[str, Feed]:
    feeds: dict[str, Feed] = {}
    for name, spec in config.feeds.items():
        mapping = load_live_mapping(spec.mapping, source=name)
        secret = read_secret(name, spec.auth.secret_file, secrets)
        auth = FeedAuth(spec.auth.scheme, secret, spec.auth.header)
        feeds[name] = Feed(name, mapping, auth, spec.rate)
    return feeds
