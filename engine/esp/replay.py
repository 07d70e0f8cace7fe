"""Anti-replay sliding window, RFC 4303 §3.4.3 and RFC 4302 §3.4.3 / App. A2 (no ESN)."""

from __future__ import annotations

MAX_WINDOW = 1024


class ReplayWindow:
    """Receiver window over 32-bit sequence numbers.

    ``check(seq)`` runs before the integrity check and does not change state;
    ``update(seq)`` runs only after the packet authenticated. Bit ``i`` of the
    bitmap records that sequence number ``top - i`` was received.

    Attributes:
        size: window size in packets (0 disables the check).
        top: highest authenticated sequence number seen.
    """

    __slots__ = ("size", "top", "bitmap", "_mask")

    def __init__(self, size: int = 64) -> None:
        if size < 0 or size > MAX_WINDOW:
            raise ValueError(f"replay window {size} out of range 0..{MAX_WINDOW}")
        self.size = size
        self.top = 0
        self.bitmap = 0
        self._mask = (1 << size) - 1

    def check(self, seq: int) -> str | None:
        """Return None if acceptable, else the reason (``zero``, ``duplicate``, ``too old``)."""
        if self.size == 0:
            return None
        if seq == 0:
            return "zero"  # RFC 4303 §3.3.3: the first packet has seq 1
        if seq > self.top:
            return None
        diff = self.top - seq
        if diff >= self.size:
            return "too old"
        if (self.bitmap >> diff) & 1:
            return "duplicate"
        return None

    def update(self, seq: int) -> None:
        """Record an authenticated sequence number."""
        if self.size == 0:
            if seq > self.top:
                self.top = seq
            return
        if seq > self.top:
            shift = seq - self.top
            self.bitmap = ((self.bitmap << shift) | 1) & self._mask if shift < self.size else 1
            self.top = seq
        else:
            self.bitmap |= 1 << (self.top - seq)

    def received(self) -> list[int]:
        """Sequence numbers inside the window marked received (for show/tests)."""
        return [self.top - i for i in range(min(self.size, self.top)) if (self.bitmap >> i) & 1]
