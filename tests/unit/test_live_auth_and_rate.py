"""Feed authentication (HMAC-SHA256 of the raw body, bearer tokens) and the per-feed token
bucket, with the clock injected."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.streams.live.auth import FeedAuth, sign
from outcome_pulse.streams.live.feeds import load_feeds_file, read_secret, webhook_feeds
from outcome_pulse.streams.live.rate_limit import TokenBucket

BODY = b'{"number": "INC1"}'


def test_hmac_signature_of_the_raw_body() -> None:
    auth = FeedAuth("hmac_sha256", SecretStr("s3cret"))
    good = sign("s3cret", BODY)
    assert auth.check({"x-hub-signature-256": f"sha256={good}"}, BODY).ok
    assert auth.check({"x-hub-signature-256": good.upper()}, BODY).ok  # prefix optional
    assert not auth.check({"x-hub-signature-256": f"sha256={good}"}, BODY + b" ").ok
    wrong = auth.check({"x-hub-signature-256": f"sha256={sign('other', BODY)}"}, BODY)
    assert (wrong.ok, wrong.problem) == (False, "wrong signature")
    assert auth.check({}, BODY).problem == "no x-hub-signature-256 header"
    assert "64 hex" in auth.check({"x-hub-signature-256": "sha256=zz"}, BODY).problem


def test_custom_signature_header() -> None:
    auth = FeedAuth("hmac_sha256", SecretStr("k"), header="X-Hub-Signature")
    assert auth.check({"x-hub-signature": "sha256=" + sign("k", BODY)}, BODY).ok


def test_bearer_token() -> None:
    auth = FeedAuth("bearer", SecretStr("tok-123"))
    assert auth.check({"authorization": "Bearer tok-123"}, BODY).ok
    assert auth.check({"authorization": "bearer tok-123"}, BODY).ok
    assert not auth.check({"authorization": "Bearer tok-1234"}, BODY).ok
    assert not auth.check({"authorization": "Basic dG9rLTEyMw=="}, BODY).ok
    assert not auth.check({}, BODY).ok


def test_secrets_never_show() -> None:
    auth = FeedAuth("bearer", SecretStr("tok-123"))
    assert "tok-123" not in repr(auth) and "tok-123" not in str(auth)
    problems = [auth.check({"authorization": h}, BODY).problem for h in ("Bearer x", "", "x")]
    assert all("tok-123" not in p for p in problems)


def test_secret_from_file_or_settings(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-file\n")
    assert read_secret("a", path, {}).get_secret_value() == "from-file"
    assert read_secret("a", None, {"a": SecretStr("env")}).get_secret_value() == "env"
    with pytest.raises(ConfigError, match="no secret"):
        read_secret("a", None, {"b": SecretStr("x")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        read_secret("a", tmp_path / "empty", {})


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take().allowed for _ in range(4)] == [True, True, True, False]
    refused = bucket.take()
    assert refused.retry_after == 1  # half a second to the next token, rounded up
    clock.now += 0.5
    assert bucket.take().allowed and not bucket.take().allowed
    clock.now += 60
    assert sum(bucket.take().allowed for _ in range(10)) == 3  # never more than the burst


def test_slow_rates_say_how_long_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=0.1, burst=1, clock=clock)
    assert bucket.take().allowed
    assert bucket.take().retry_after == 10
    clock.now += 4
    assert bucket.take().retry_after == 6


def test_feeds_file_errors_name_the_feed_and_field(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  jira-acme:\n    mapping: jira\n    auth: {scheme: hmac}\n")
    with pytest.raises(
        ConfigError, match=r"feeds\['jira-acme'\]\.auth\.scheme: expected 'hmac_sha256'"
    ):
        load_feeds_file(path)
    path.write_text("feeds:\n  jira-acme:\n    mapping: jira\n    auth: {scheme: hmac_sha256}\n")
    with pytest.raises(ConfigError, match="feed jira-acme: no secret"):
        webhook_feeds(load_feeds_file(path), {})
    feeds = webhook_feeds(load_feeds_file(path), {"jira-acme": SecretStr("s")})
    assert feeds["jira-acme"].mapping.source == "jira-acme"  # the feed's name is the source
    path.write_text(
        "polls:\n  sn:\n    api: servicenow_table\n    url: x\n    mapping: servicenow\n"
        "    checkpoint: c.json\n    overlap: soon\n"
    )
    with pytest.raises(ConfigError, match=r"polls\.sn\.overlap"):
        load_feeds_file(path)
