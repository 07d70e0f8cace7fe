"""Stateless failover and the preferred peer through the sans-I/O IKE engine: one spoke
and two hubs wired in memory, protocol time stepped by hand (seed 003 L65/L97/L397,
seed 004 L30/L74/L90/L162, seed 000 L3680-3683). Configs are the scenario files."""

from __future__ import annotations

from pathlib import Path

from engine.config.ios import parse_ios
from engine.ike import IkeEngine, PacketSelector
from engine.ike.events import ChildSaDown, ChildSaUp, IkeSaDown, NegotiationFailed
from engine.ike.registry import ExchangeType

HUBS = Path(__file__).resolve().parents[2] / "scenarios" / "dpd" / "hubs"
SPOKE, DEFAULT, BACKUP = "10.1.32.14", "10.1.1.1", "10.2.2.2"
SEL = PacketSelector("192.168.1.10", "192.168.2.10", 1)


def _engine(name: str, addr: str, edit=None) -> IkeEngine:
    text = (HUBS / name).read_text()
    if edit is not None:
        text = edit(text)
    cfg = parse_ios(text)
    assert not cfg.errors, cfg.errors
    return IkeEngine(cfg, [addr])


class Net:
    """The spoke and its hubs; ``down`` hubs lose everything sent to or by them."""

    def __init__(self, edit=None) -> None:
        self.spoke = _engine("r1-tohub.cfg", SPOKE, edit)
        self.hubs = {a: _engine(f"hub-{a}.cfg", a) for a in (DEFAULT, BACKUP)}
        self.now = 0.0
        self.down: set[str] = set()
        self.sent: list[tuple[float, str, int, bytes]] = []  # spoke → (t, dst, exch, icookie)
        self.events: dict[str, list] = {k: [] for k in ("spoke", *self.hubs)}

    def pump(self) -> None:
        for _ in range(200):
            moved = 0
            for d in self.spoke.datagrams_to_send(self.now):
                moved += 1
                self.sent.append((self.now, d.dst[0], d.data[18], d.data[:8]))
                if d.dst[0] not in self.down and d.dst[0] in self.hubs:
                    self.hubs[d.dst[0]].receive_datagram(d.data, d.src, d.dst, self.now)
            for a, hub in self.hubs.items():
                for d in hub.datagrams_to_send(self.now):
                    moved += 1
                    if a not in self.down:
                        self.spoke.receive_datagram(d.data, d.src, d.dst, self.now)
            for name, eng in (("spoke", self.spoke), *self.hubs.items()):
                while (ev := eng.next_event()) is not None:
                    self.events[name].append((self.now, ev))
            if not moved:
                return
        raise AssertionError("no quiescence")

    def engines(self):
        return [self.spoke, *self.hubs.values()]

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            ts = [t for t in (e.get_timer() for e in self.engines()) if t is not None]
            nxt = min(ts) if ts else None
            if nxt is None or nxt > end:
                self.now = end
                self.pump()
                return
            self.now = max(self.now, nxt)
            for e in self.engines():
                e.handle_timer(self.now)
            self.pump()

    def acquire(self) -> None:
        assert self.spoke.acquire(SEL, self.now)
        self.pump()

    def of(self, who: str, kind: type) -> list:
        return [(t, e) for t, e in self.events[who] if isinstance(e, kind)]

    def mark(self) -> int:
        return len(self.sent)

    def phase1_targets(self, since: int = 0) -> list[str]:
        """Peers of the Phase 1 exchanges the spoke started after ``mark()`` ``since``."""
        seen, out = set(), []
        for _t, dst, exch, ic in self.sent[since:]:
            if exch == ExchangeType.IDENTITY_PROTECTION and ic not in seen:
                seen.add(ic)
                out.append(dst)
        return out

    def child_peers(self) -> list[str]:
        return sorted({p.peer for p in self.spoke.child_sas()})


def test_default_peer_dpd_failover_and_idle_return():
    n = Net()
    n.acquire()
    assert n.phase1_targets() == [DEFAULT] and n.child_peers() == [DEFAULT]
    # Periodic DPD (keepalive 10 periodic): R_U_THERE at 10, retransmits every 2 s,
    # dead at the 5th unanswered retry interval (seed 003 L97, L397).
    n.down.add(DEFAULT)
    t0 = n.now
    n.advance(25)
    probes = [
        t - t0
        for t, dst, exch, _ in n.sent
        if dst == DEFAULT and exch == ExchangeType.INFORMATIONAL and t > t0
    ]
    assert probes == [10, 12, 14, 16, 18]
    ((t_dead, down),) = n.of("spoke", IkeSaDown)
    assert t_dead - t0 == 20 and down.reason == "peers alive"
    assert n.child_peers() == []
    # Seed 004 L30/L74: the list is reset, the next connection tries the default peer ...
    t1 = n.mark()
    n.acquire()
    assert n.phase1_targets(t1) == [DEFAULT]
    n.advance(300)
    assert any(e.peer == DEFAULT and e.phase == 1 for _, e in n.of("spoke", NegotiationFailed))
    # ... which does not answer: 10.2.2.2 becomes the current peer.
    t2 = n.mark()
    n.acquire()
    assert n.phase1_targets(t2) == [BACKUP] and n.child_peers() == [BACKUP]
    # The default peer returns: no pre-emption while the backup's SAs live.
    n.down.clear()
    t3 = n.mark()
    assert n.spoke.acquire(SEL, n.now)
    n.pump()
    assert n.phase1_targets(t3) == [] and n.child_peers() == [BACKUP]
    # Idle timer with `default` (seed 004 L162): DELETEs, IKE SA too (seed 000 L3680-3683),
    # and the next connection goes to the default peer.
    spi = n.spoke.child_sas()[0].inbound_spis[0]
    assert n.spoke.idle_expired(spi, n.now, default=True)
    n.pump()
    assert n.child_peers() == [] and not any(sa.established for sa in n.spoke.isakmp_sas())
    assert n.of(BACKUP, ChildSaDown) and n.of(BACKUP, IkeSaDown)  # the hub got the DELETEs
    t4 = n.mark()
    n.acquire()
    assert n.phase1_targets(t4) == [DEFAULT] and n.child_peers() == [DEFAULT]
    assert n.spoke.peers.current("tohub", 1) == DEFAULT


def test_idle_without_default_keyword_stays_with_current_peer():
    n = Net(edit=lambda t: t.replace("idletime 120 default", "idletime 120"))
    n.down.add(DEFAULT)
    n.acquire()
    n.advance(300)  # the default peer does not answer
    n.down.clear()
    n.acquire()
    assert n.child_peers() == [BACKUP]
    spi = n.spoke.child_sas()[0].inbound_spis[0]
    assert n.spoke.idle_expired(spi, n.now, default=False)
    n.pump()
    t = n.mark()
    n.acquire()
    assert n.phase1_targets(t) == [BACKUP]  # seed 004 L90: the current peer stays


def test_hub_child_up_events():
    n = Net()
    n.acquire()
    assert n.of(DEFAULT, ChildSaUp) and not n.of(BACKUP, ChildSaUp)
