"""The engine's one scalable clock.

Protocol time = start + scale × real elapsed time (monotonic). Every timer of
the engine (IKE retransmission, lifetimes, DPD, idle timers) is expressed in
protocol seconds and converted here, so ``--clock-scale 60`` makes a 3600 s
lifetime pass in one real minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Clock:
    """Scaled monotonic clock.

    Attributes:
        scale: protocol seconds per real second (> 0).
        start: protocol time at creation (default 0.0).
    """

    scale: float = 1.0
    start: float = 0.0
    _real0: float = field(default_factory=time.monotonic, repr=False)
    _wall0: float = field(default_factory=time.time, repr=False)

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"clock scale must be > 0, got {self.scale!r}")

    def now(self) -> float:
        """Current protocol time in seconds."""
        return self.start + (time.monotonic() - self._real0) * self.scale

    def to_real_delay(self, protocol_seconds: float) -> float:
        """Real seconds that ``protocol_seconds`` of protocol time take."""
        return max(0.0, protocol_seconds) / self.scale

    def real_until(self, protocol_deadline: float | None) -> float | None:
        """Real seconds from now until ``protocol_deadline`` (None stays None)."""
        if protocol_deadline is None:
            return None
        return self.to_real_delay(protocol_deadline - self.now())

    def sleep_until(self, protocol_deadline: float) -> None:
        """Block until protocol time reaches ``protocol_deadline``."""
        while True:
            delay = self.real_until(protocol_deadline)
            if not delay:
                return
            time.sleep(delay)

    def wall_time(self, protocol_time: float | None = None) -> float:
        """Scaled wall-clock (UNIX) time for a protocol instant (report timestamps)."""
        t = self.now() if protocol_time is None else protocol_time
        return self._wall0 + (t - self.start)

    def real_monotonic(self, protocol_time: float) -> float:
        """``time.monotonic()`` value at which protocol time ``protocol_time`` occurs."""
        return self._real0 + (protocol_time - self.start) / self.scale

    def snapshot(self) -> dict[str, float]:
        """Data for ``lab clock``."""
        return {"now": self.now(), "scale": self.scale, "start": self.start,
                "wall": self.wall_time()}
