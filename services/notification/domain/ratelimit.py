"""A token bucket per channel: a mail relay or SMS gateway accepts only so many per second."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # most tokens held
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self):
        if self.tokens < 0:
            self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def available(self, now: float) -> int:
        self._refill(now)
        return int(self.tokens)

    def take(self, now: float, n: int = 1) -> bool:
        self._refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False
