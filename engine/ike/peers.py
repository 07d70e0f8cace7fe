"""Crypto map peer lists: stateless failover and the preferred (default) peer.

Sans-I/O state kept per crypto map entry, driven by the IKE engine:

    table = PeerTable()
    peer = table.choose("tohub", entry)          # next connection attempt (acquire)
    table.attempt_failed(peer)                    # Phase 1 to ``peer`` gave up
    table.established(peer)                       # Phase 1/2 with ``peer`` succeeded
    table.dpd_dead(peer)                          # DPD declared ``peer`` dead
    table.idle_expired(peer, default=True)        # idle timer (``... idletime N default``)

The model reconciles the documents (seed003-004 spec, section B.2.7):

* The peer list is the ``set peer`` order; the default peer, if any, is the
  first and only one (seed 004 L32-33).
* The first connection goes to the first peer (seed 003 L101).
* An unanswered attempt makes the next listed peer the current one, and later
  connections try it (seed 004 L74; seed 003 L65, cycling: "ピアリストが循環されます",
  seed 000 L2149-2152).
* DPD death of the current peer: with a default peer, the list is reset and the
  next connection goes straight to the default peer (seed 004 L30, L74);
  without one, the next connection goes to the next listed peer (seed 003 L65,
  seed 000 L2037-2042).
* Idle expiry of the current peer's SAs with ``idletime N default``: the next
  connection goes to the default peer (seed 004 L90, L143, L162); without a
  default peer (or without the keyword) the current peer stays (L90).
* No pre-emption: a working non-default peer is kept while it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PeerList:
    """Failover state of one crypto map entry.

    Attributes:
        peers: peer addresses in ``set peer`` order.
        has_default: ``peers[0]`` carries the ``default`` keyword.
        current: index of the current peer.
        reset_to_default: the next connection goes to ``peers[0]``.
        advance: the next connection goes to the peer after the current one.
        history: (reason, peer) transitions, newest last (show/debug, tests).
    """

    peers: tuple[str, ...]
    has_default: bool = False
    current: int = 0
    reset_to_default: bool = False
    advance: bool = False
    history: list[tuple[str, str]] = field(default_factory=list)

    @property
    def current_peer(self) -> str | None:
        return self.peers[self.current] if self.peers else None

    def choose(self) -> str | None:
        """Peer for the next connection attempt; makes it the current peer."""
        if not self.peers:
            return None
        if self.reset_to_default:
            target = 0
        elif self.advance:
            target = (self.current + 1) % len(self.peers)
        else:
            target = self.current
        if target != self.current or self.reset_to_default or self.advance:
            self.history.append(("choose", self.peers[target]))
        self.reset_to_default = self.advance = False
        self.current = target
        return self.peers[target]

    def _is_current(self, peer: str) -> bool:
        return bool(self.peers) and self.peers[self.current] == peer

    def attempt_failed(self, peer: str) -> None:
        """Phase 1 to ``peer`` got no answer: the next listed peer becomes current."""
        if self._is_current(peer) and len(self.peers) > 1:
            self.current = (self.current + 1) % len(self.peers)
            self.reset_to_default = self.advance = False
            self.history.append(("attempt failed", peer))

    def established(self, peer: str) -> None:
        """A negotiation with ``peer`` succeeded: it is the current peer."""
        if peer in self.peers and not self.reset_to_default and not self.advance:
            self.current = self.peers.index(peer)

    def dpd_dead(self, peer: str) -> None:
        """DPD declared ``peer`` dead (its SAs are already deleted)."""
        if not self._is_current(peer):
            return
        self.history.append(("dpd dead", peer))
        if self.has_default:
            self.reset_to_default = True
        elif len(self.peers) > 1:
            self.advance = True

    def idle_expired(self, peer: str, default: bool) -> None:
        """The idle timer deleted the last SAs with ``peer``."""
        if not self._is_current(peer):
            return
        self.history.append(("idle", peer))
        if default and self.has_default:
            self.reset_to_default = True


def entry_peers(entry: Any) -> tuple[tuple[str, ...], bool]:
    """(addresses in order, first is default) of a crypto map entry (hostnames skipped)."""
    peers = [p for p in entry.peers if p.address is not None]
    return tuple(str(p.address) for p in peers), bool(peers and peers[0].default)


class PeerTable:
    """Every crypto map entry's :class:`PeerList`, created on first use.

    A list whose configured peers changed (``lab config``) starts afresh.
    """

    def __init__(self) -> None:
        self.lists: dict[tuple[str, int], PeerList] = {}

    def get(self, map_name: str, entry: Any) -> PeerList:
        peers, has_default = entry_peers(entry)
        key = (map_name, int(entry.seq))
        pl = self.lists.get(key)
        if pl is None or pl.peers != peers or pl.has_default != has_default:
            pl = self.lists[key] = PeerList(peers, has_default)
        return pl

    def choose(self, map_name: str, entry: Any) -> str | None:
        return self.get(map_name, entry).choose()

    def current(self, map_name: str, seq: int) -> str | None:
        pl = self.lists.get((map_name, int(seq)))
        return pl.current_peer if pl is not None else None

    def _each(self, peer: str):
        return [pl for pl in self.lists.values() if peer in pl.peers]

    def attempt_failed(self, peer: str) -> None:
        for pl in self._each(peer):
            pl.attempt_failed(peer)

    def established(self, peer: str) -> None:
        for pl in self._each(peer):
            pl.established(peer)

    def dpd_dead(self, peer: str) -> None:
        for pl in self._each(peer):
            pl.dpd_dead(peer)

    def idle_expired(self, peer: str, map_name: str | None, seq: int | None, default: bool) -> None:
        pl = self.lists.get((map_name or "", int(seq or 0)))
        if pl is not None:
            pl.idle_expired(peer, default)

    def current_peers(self) -> dict[str, str]:
        """``{"map/seq": peer}`` for ``show crypto map`` (``ShowState.current_peers``)."""
        return {
            f"{m}/{s}": pl.current_peer
            for (m, s), pl in self.lists.items()
            if pl.current_peer is not None
        }
