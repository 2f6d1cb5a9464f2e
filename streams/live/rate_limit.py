"""Per-feed request rate: a token bucket (``rate`` requests per second, up to ``burst`` at once).

The clock is injected (monotonic seconds), so tests control time. ``take`` answers whether a
request may go on and, if not, how many seconds until it may (the ``Retry-After`` of a 429).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0  # whole seconds, at least 1 when not allowed


class TokenBucket:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> RateDecision:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return RateDecision(True)
        wait = (1.0 - self._tokens) / self._rate
        return RateDecision(False, max(1, math.ceil(wait)))
