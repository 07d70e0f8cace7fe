"""NAT keepalives (RFC 3948 §2.3, RFC 3947 §4; IOS ``crypto isakmp nat keepalive N``).

Sans-I/O, aioquic style: the runner tells this object which UDP-encapsulated
peerings exist (``track``/``untrack``) and when a packet was sent to or
received from a peer endpoint (``activity``); it asks ``get_timer()`` for the
next deadline, calls ``handle_timer(now)`` and sends what
``datagrams_to_send(now)`` returns: a UDP datagram with the one-byte payload
0xFF, source and destination port 4500, no non-ESP marker (RFC 3948 §2.3).

Behaviour as seed 000 L2913-2921 and L3022-3043 describe it:

* a keepalive is sent only when nothing was sent to *or* received from the
  peer for ``interval`` seconds (DPD is the other mechanism, L2916-2919);
* the interval is 5-3600 s (the config parser rejects the rest);
* a 5 % jitter is applied to the timer (L3037-3040). The lab applies it
  downwards only (``interval * (1 - U(0, 0.05))``), so a keepalive never
  comes later than configured and the NAT mapping (L2920-2921: keepalive <
  mapping lifetime) always stays refreshed;
* a changed interval applies to each peering from its next keepalive on
  (L3027-3032): a pending deadline is kept, the following one uses the new
  value. ``None`` switches keepalives off at once.

Only the side behind the NAT needs to send them (RFC 3947 §4); the runner
decides whom to ``track``. All times are protocol seconds (scaled clock).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

Address = tuple[str, int]

KEEPALIVE = b"\xff"  #: RFC 3948 §2.3 payload
NATT_PORT = 4500
MIN_INTERVAL, MAX_INTERVAL = 5, 3600  #: seed 000 L3022-3023
JITTER = 0.05  #: seed 000 L3037-3040


@dataclass(frozen=True)
class KeepaliveDatagram:
    """One keepalive to send: ``data`` from ``src`` to ``dst`` (UDP)."""

    data: bytes
    src: Address
    dst: Address


@dataclass
class _Peering:
    local: Address
    peer: Address
    last_activity: float
    due: float
    sent: int = 0
    times: list[float] = field(default_factory=list)


class NatKeepalive:
    """Keepalive timers for every tracked (local, peer) UDP 4500 endpoint pair.

    Args:
        interval: seconds of silence before a keepalive; ``None`` = off.
        jitter: fraction of the interval drawn off each deadline (0 = exact).
        rng: source of the jitter (tests pass a seeded ``random.Random``).
        history: how many send times to keep per peering (``times``, for show/tests).
    """

    def __init__(
        self,
        interval: float | None,
        jitter: float = JITTER,
        rng: random.Random | None = None,
        history: int = 64,
    ) -> None:
        if interval is not None and interval <= 0:
            raise ValueError(f"NAT keepalive interval must be positive, not {interval!r}")
        if not 0 <= jitter < 1:
            raise ValueError(f"NAT keepalive jitter must be within [0, 1), not {jitter!r}")
        self.interval = interval
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._history = history
        self._peerings: dict[tuple[Address, Address], _Peering] = {}
        self._out: list[KeepaliveDatagram] = []
        self.sent_total = 0

    # -- configuration and bookkeeping --------------------------------------------

    def set_interval(self, interval: float | None, now: float) -> None:
        """New ``crypto isakmp nat keepalive`` value (``None``: ``no ...``).

        Pending deadlines stay; each peering uses the new value from its next
        keepalive on (seed 000 L3027-3032). Switching on arms idle peerings now.
        """
        if interval is not None and interval <= 0:
            raise ValueError(f"NAT keepalive interval must be positive, not {interval!r}")
        was_off = self.interval is None
        self.interval = interval
        if interval is not None and was_off:
            for p in self._peerings.values():
                p.due = max(p.last_activity, now - interval) + self._period()

    def track(self, local: Address, peer: Address, now: float) -> None:
        """Start keeping the NAT mapping of ``local`` ↔ ``peer`` alive (idempotent)."""
        key = (_addr(local), _addr(peer))
        if key not in self._peerings:
            self._peerings[key] = _Peering(key[0], key[1], now, now + self._period())

    def untrack(self, local: Address, peer: Address) -> bool:
        """Stop (IKE SA gone). Returns whether the peering was tracked."""
        return self._peerings.pop((_addr(local), _addr(peer)), None) is not None

    def move(self, local: Address, old_peer: Address, new_peer: Address) -> bool:
        """The peer's NAT mapping changed (rebinding): keep timing, new destination."""
        p = self._peerings.pop((_addr(local), _addr(old_peer)), None)
        if p is None:
            return False
        p.peer = _addr(new_peer)
        self._peerings[(p.local, p.peer)] = p
        return True

    def activity(self, local: Address, peer: Address, now: float) -> None:
        """A packet was sent to or received from ``peer`` on ``local``: restart the timer."""
        p = self._peerings.get((_addr(local), _addr(peer)))
        if p is not None and now >= p.last_activity:
            p.last_activity = now
            p.due = now + self._period()

    def peerings(self) -> list[dict[str, object]]:
        """What is tracked (for ``lab state`` and tests)."""
        return [
            {
                "local": list(p.local),
                "peer": list(p.peer),
                "sent": p.sent,
                "last_activity": p.last_activity,
                "due": p.due,
                "times": list(p.times),
            }
            for p in self._peerings.values()
        ]

    # -- sans-I/O timer API ---------------------------------------------------------

    def get_timer(self) -> float | None:
        """Earliest keepalive deadline, or ``None`` (off or nothing tracked)."""
        if self.interval is None or not self._peerings:
            return None
        return min(p.due for p in self._peerings.values())

    def handle_timer(self, now: float) -> None:
        """Queue a keepalive for every peering silent past its deadline."""
        if self.interval is None:
            return
        for p in self._peerings.values():
            if p.due > now:
                continue
            self._out.append(KeepaliveDatagram(KEEPALIVE, p.local, p.peer))
            p.sent += 1
            self.sent_total += 1
            p.times.append(now)
            del p.times[: -self._history]
            # Sending is traffic too: the next one is one (new) interval later.
            p.last_activity = now
            p.due = now + self._period()

    def datagrams_to_send(self, now: float) -> list[KeepaliveDatagram]:
        """Keepalives queued by :meth:`handle_timer` (each returned once)."""
        out, self._out = self._out, []
        return out

    def _period(self) -> float:
        if self.interval is None:
            return float("inf")
        return self.interval * (1.0 - self._rng.uniform(0.0, self.jitter))


def is_keepalive(payload: bytes) -> bool:
    """A datagram on UDP 4500 that is a NAT keepalive (RFC 3948 §2.3, §4)."""
    return payload == KEEPALIVE


def _addr(a: Address) -> Address:
    return (str(a[0]), int(a[1]))


__all__ = ["KEEPALIVE", "KeepaliveDatagram", "NatKeepalive", "is_keepalive"]
