"""Who may post to a feed: an HMAC-SHA256 signature of the raw body, or a bearer token.

* ``hmac_sha256``: the sender signs the exact bytes it posts with the shared secret and sends
  the hex digest in a header (``X-Hub-Signature-256: sha256=<hex>``, as GitHub and Jira's
  webhooks do; the ``sha256=`` prefix is optional).
* ``bearer``: ``Authorization: Bearer <token>`` (what a ServiceNow REST message can send).

Comparisons are constant-time (``hmac.compare_digest``). Secrets are held as ``SecretStr`` and
never appear in a message, a log line or a ``repr``; a rejection says what was wrong (no
signature, a malformed one, a wrong one) without saying anything about the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

Scheme = Literal["hmac_sha256", "bearer"]
DEFAULT_SIGNATURE_HEADER = "x-hub-signature-256"


@dataclass(frozen=True)
class AuthDecision:
    ok: bool
    problem: str = ""


@dataclass(frozen=True)
class FeedAuth:
    scheme: Scheme
    secret: SecretStr
    header: str = DEFAULT_SIGNATURE_HEADER

    def check(self, headers: Mapping[str, str], body: bytes) -> AuthDecision:
        """``headers`` must be case-insensitive (Starlette's are) or lower-cased."""
        if self.scheme == "bearer":
            return self._bearer(headers.get("authorization"))
        return self._signature(headers.get(self.header.lower()), body)

    def _bearer(self, value: str | None) -> AuthDecision:
        if not value:
            return AuthDecision(False, "no Authorization header")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return AuthDecision(False, "the Authorization header is not 'Bearer <token>'")
        expected = self.secret.get_secret_value().encode()
        if hmac.compare_digest(token.strip().encode(), expected):
            return AuthDecision(True)
        return AuthDecision(False, "wrong bearer token")

    def _signature(self, value: str | None, body: bytes) -> AuthDecision:
        if not value:
            return AuthDecision(False, f"no {self.header} header")
        given = value.strip().removeprefix("sha256=").lower()
        if len(given) != 64 or any(c not in "0123456789abcdef" for c in given):
            return AuthDecision(False, f"{self.header} is not sha256=<64 hex digits>")
        expected = sign(self.secret.get_secret_value(), body)
        if hmac.compare_digest(given.encode(), expected.encode()):
            return AuthDecision(True)
        return AuthDecision(False, "wrong signature")


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` with ``secret`` (what a sender puts after ``sha256=``)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
