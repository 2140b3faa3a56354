"""Makes "no such account" take as long as "wrong password", so that timing does not tell
which usernames exist.

A wrong password costs the directory a bind against a real entry: a round trip plus checking
the password hash, which with a slow hash ({ARGON2}, PBKDF2) is milliseconds. For an unknown
username the caller binds a decoy DN instead (the round trip), then ``pad`` sleeps for what is
left of one of the recent real binds, drawn at random, so that not only the median but the
whole spread of durations looks the same.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque

SAMPLES = 64


class BindTimer:
    """The durations of the last ``SAMPLES`` binds against real entries, per directory."""

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=SAMPLES)
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)

    def draw(self) -> float:
        """One of the recent durations, at random (0 before any was seen)."""
        with self._lock:
            samples = list(self._samples)
        return secrets.choice(samples) if samples else 0.0

    def pad(self, spent: float) -> None:
        """Sleep until ``spent`` reaches the duration of a real bind."""
        remaining = self.draw() - spent
        if remaining > 0:
            time.sleep(remaining)
