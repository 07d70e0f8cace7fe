"""Two gateways behind one PAT address (same public IP, own ports) and one responder.

Sans-I/O: three IkeEngines configured from IOS text (the configs of
scenarios/natt/_topo.py), a PAT mapping in the middle. Both gateways send
INITIAL-CONTACT (RFC 2407 §4.6.3.3) in their first Main Mode; behind NAT the
public address is shared, so it must not make the responder drop the *other*
gateway's SAs (IOS keys NAT-T peers by address and port).
"""

from __future__ import annotations

import pytest

from engine.config.ios import parse_ios
from engine.ike import ChildSaDown, ChildSaUp, IkeEngine, IkeSaDown, IkeSaUp, PacketSelector
from scenarios.natt._topo import Case, ios_config

PAT = "203.0.113.1"
CASE = Case(left="pat", two=True)


class PatWire:
    """r1 and r3 behind one PAT box, r2 outside; datagrams pumped in memory."""

    def __init__(self) -> None:
        self.eng = {
            r: IkeEngine(
                parse_ios(ios_config(CASE, r if r != "r2" else "far"), f"{r}.cfg", repair=False),
                [CASE.wan(r if r != "r2" else "far")],
            )
            for r in ("r1", "r3", "r2")
        }
        self.ports: dict[tuple[str, int], int] = {}  # (inside ip, port) -> public port
        self.events: dict[str, list] = {r: [] for r in self.eng}
        self.now = 0.0

    def _public(self, src: tuple[str, int]) -> int:
        if src not in self.ports:
            self.ports[src] = (
                src[1] if src[1] not in self.ports.values() else 40000 + len(self.ports)
            )
        return self.ports[src]

    def pump(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            moved = 0
            for r in ("r1", "r3"):
                for d in self.eng[r].datagrams_to_send(self.now):
                    self.eng["r2"].receive_datagram(
                        d.data, (PAT, self._public(d.src)), d.dst, self.now
                    )
                    moved += 1
            for d in self.eng["r2"].datagrams_to_send(self.now):
                inside = {v: k for k, v in self.ports.items()}.get(d.dst[1])
                if d.dst[0] == PAT and inside is not None:
                    r = "r1" if inside[0] == CASE.wan("r1") else "r3"
                    self.eng[r].receive_datagram(d.data, d.src, inside, self.now)
                    moved += 1
            for r, e in self.eng.items():
                while (ev := e.next_event()) is not None:
                    self.events[r].append(ev)
            if not moved:
                return

    def of(self, r: str, kind: type) -> list:
        return [e for e in self.events[r] if isinstance(e, kind)]


@pytest.mark.parametrize("together", [False, True], ids=["one-after-the-other", "at-once"])
def test_initial_contact_spares_the_other_gateway(together: bool) -> None:
    w = PatWire()
    sel = {
        "r1": PacketSelector("10.0.1.10", "10.0.2.10", 1),
        "r3": PacketSelector("10.0.3.10", "10.0.2.10", 1),
    }
    w.eng["r1"].acquire(sel["r1"], w.now)
    if not together:
        w.pump()
    w.eng["r3"].acquire(sel["r3"], w.now)
    w.pump()
    assert len(w.of("r2", IkeSaUp)) == 2
    assert sorted(e.peer[1] for e in w.of("r2", IkeSaUp)) == sorted(
        {w.ports[(CASE.wan(r), 4500)] for r in ("r1", "r3")}
    )
    assert len(w.of("r2", ChildSaUp)) == 2
    assert w.of("r2", ChildSaDown) == [] and w.of("r2", IkeSaDown) == []
    assert len(w.eng["r2"].isakmp_sas()) == 2
