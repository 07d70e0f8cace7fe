"""IPsec SA idle timers (seed 000 L3606-3968, seed 004 L80-92, L125-169).

Sans-I/O: the caller passes ``now`` (protocol seconds) and the SA pairs.

    idle = IdleTimers()
    for entry, setting in idle.poll(now, sadb.entries, config):   # every loop turn
        ike.idle_expired(entry.spi_in, now)                       # DELETE, maybe IKE too
    deadline = idle.next_deadline()                               # loop timeout

Activity is seen through the pair's packet counters (encaps + decaps): a
pair whose counters did not move for the idle time is expired. IKE messages
(DPD included) are not activity (seed003-004 spec XS-04: periodic DPD must not
keep an idle peer alive). The pair (inbound + outbound) is one unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IDLE_MIN, IDLE_MAX = 60, 86400  # seed 000 L3730-3733, L3795-3798


@dataclass(frozen=True)
class IdleSetting:
    """The idle timer that applies to one SA pair.

    Attributes:
        seconds: idle time.
        default: ``set security-association idletime N default`` (seed 004 L143):
            the next connection goes to the default peer.
        source: ``"map"`` or ``"global"``.
    """

    seconds: float
    default: bool
    source: str


def idle_setting(config: Any, entry: Any | None) -> IdleSetting | None:
    """Idle timer of SAs made from crypto map ``entry`` (None: no idle timer).

    The entry's own timer wins over the global one (seed 000 L3735-3736); a map
    value equal to the global value is "not added" to the map (seed 004 L38), so
    the global timer applies, without ``default``.
    """
    glob = getattr(getattr(config, "globals", None), "idle_time", None)
    own = getattr(entry, "idletime", None) if entry is not None else None
    if own and own != glob:
        return IdleSetting(float(own), bool(getattr(entry, "idletime_default", False)), "map")
    if glob:
        return IdleSetting(float(glob), False, "global")
    return None


def _activity(entry: Any) -> int:
    c = entry.counters()
    return int(c.get("encaps", 0)) + int(c.get("decaps", 0))


@dataclass
class _Seen:
    count: int
    last_active: float
    seconds: float


class IdleTimers:
    """Idle bookkeeping for the installed SA pairs of one engine."""

    def __init__(self) -> None:
        self._seen: dict[int, _Seen] = {}  # by id(entry)

    def poll(
        self, now: float, entries: list[Any], config: Any, entry_of=None
    ) -> list[tuple[Any, IdleSetting]]:
        """Note activity; return the pairs idle for their idle time (forgotten here).

        ``entry_of(pair_entry)`` gives the crypto map entry of an SA pair (default:
        looked up by ``pair.crypto_map``/``crypto_map_seq`` in ``config``).
        """
        lookup = entry_of or (lambda e: _map_entry(config, e))
        live: set[int] = set()
        expired: list[tuple[Any, IdleSetting]] = []
        for e in entries:
            setting = idle_setting(config, lookup(e))
            if setting is None:
                continue
            key = id(e)
            live.add(key)
            count = _activity(e)
            seen = self._seen.get(key)
            if seen is None:
                start = getattr(e, "installed", now)
                seen = self._seen[key] = _Seen(count, min(start, now), setting.seconds)
            elif count != seen.count:
                seen.count, seen.last_active = count, now
            seen.seconds = setting.seconds
            if now - seen.last_active >= setting.seconds:
                expired.append((e, setting))
                live.discard(key)
        for key in [k for k in self._seen if k not in live]:
            del self._seen[key]
        return expired

    def next_deadline(self) -> float | None:
        """Protocol time of the earliest possible expiry (None: no idle timer runs)."""
        times = [s.last_active + s.seconds for s in self._seen.values()]
        return min(times) if times else None

    def idle_for(self, entry: Any, now: float) -> float | None:
        """Seconds ``entry`` has been idle (None if it has no idle timer)."""
        s = self._seen.get(id(entry))
        return None if s is None else now - s.last_active


def _map_entry(config: Any, e: Any) -> Any | None:
    pair = getattr(e, "pair", None)
    name, seq = getattr(pair, "crypto_map", None), getattr(pair, "crypto_map_seq", None)
    cmap = getattr(config, "crypto_maps", {}).get(name or "")
    return cmap.entries.get(seq) if cmap is not None and seq is not None else None
