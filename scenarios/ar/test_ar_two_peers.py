"""AR570S with two fixed peers, one ISAKMP policy and pre-shared key each (seed 002 L1038-1046).

Router A has ``CREATE ISAKMP POLICY=two PEER=2.2.2.2 KEY=1 SENDN=TRUE`` and
``CREATE ISAKMP POLICY=three PEER=3.3.3.3 KEY=2 SENDN=TRUE`` (L1045-1046) and one IPsec
policy per peer.  Each peer authenticates with its own key (L1038-1046); Router B keeps
the shared value under another ENCO key number, which is allowed (L96-100).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows

HERE = Path(__file__).resolve().parent / "ar_two_peers"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(96, 1046),
    section="ISAKMP policy: several peers, one policy and pre-shared key per peer",
    chapter="IPsec (AR570S)",
    claim="With one ISAKMP policy per fixed peer, each peer authenticates with its own "
          "pre-shared key (the key number may differ between routers, the value must match), "
          "and each LAN-to-LAN policy gets its own IPsec SA.",
    feature="ar-multi-peer", topology="scenarios/ar/ar_two_peers/engine.yaml",
    peers=("engine",),
    notes=("Around the seed's two ISAKMP policies (L1045-1046, verbatim) the lab writes the "
           "keys and the per-peer IPsec policies vpn2/vpn3 (lines marked 'lab').",),
)  # fmt: skip


def test_ar_two_fixed_peers(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    for n in ("r1", "r2", "r3"):
        ev.config(n, HERE / f"{n}.cfg", label="engine --dialect ar")
    with ExitStack() as stack:
        with ev.step("bring up ar-two-peers (three AR570S engines)"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1", "r2", "r3")):
            _run(ev, lab)


def _run(ev, lab) -> None:
    r1 = lab.node("r1")
    with ev.step("h1 pings LAN B and LAN C"):
        b = lab.node("h1").ping("192.168.20.10", count=4, interval=0.3, wait=2).received
        c = lab.node("h1").ping("192.168.30.10", count=4, interval=0.3, wait=2).received
    ev.check("LAN A <-> LAN B through Router B (key 1 = Router B's key 5)", b, ">= 3", ok=b >= 3)
    ev.check("LAN A <-> LAN C through Router C (key 2)", c, ">= 3", ok=c >= 3)
    isa = _rows(ev.show(r1, "show isakmp sa", label="Router A"), "SA")
    ev.check("SHOW ISAKMP SA: one ISAKMP SA per peer", sorted(r[1] for r in isa),
             ["2.2.2.2", "3.3.3.3"])  # fmt: skip
    sas = _rows(ev.show(r1, "show ipsec sa", label="Router A"), "SA")
    ev.check("SHOW IPSEC SA: one ESP SA for each IPsec policy", sorted(r[1] for r in sas),
             ["vpn2", "vpn3"])  # fmt: skip
    pol = ev.show(r1, "show isakmp policy", label="Router A")
    ev.check("SHOW ISAKMP POLICY lists two and three with their peers",
             [ln.split() for ln in pol.splitlines() if ln.split()[:1] in (["two"], ["three"])],
             [["two", "2.2.2.2"], ["three", "3.3.3.3"]])  # fmt: skip
