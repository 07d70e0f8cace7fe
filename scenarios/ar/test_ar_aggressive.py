"""AR570S Aggressive Mode with one dynamic side: ID authentication, PEER=DYNAMIC (seed 002).

Both routers run the AR dialect with the seed's commands verbatim.  Router A
(fixed 1.1.1.1) has ``CREATE ISAKMP POLICY=i PEER=ANY KEY=1 SENDN=TRUE
REMOTEID="RouterB" MODE=AGGRESSIVE`` (L122-124) and the IPsec policy ``vpn``
with ``PEER=DYNAMIC`` (L599-604); Router B has ``PEER=1.1.1.1 ...
LOCALID="RouterB" MODE=AGGRESSIVE`` (L128-130) and ``vpn`` towards 1.1.1.1
(L610-615).  The document's claims: negotiation is always started by the
dynamic side (L595-597, L1012-1014); the fixed side authenticates the peer when
the received ID equals REMOTEID and the pre-shared key matches
(L1016-1020); a peer with another ID is not authenticated (L1016-1034).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "ar_aggressive"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(110, 1036),
    section="IPsec basic configuration: one side with a dynamic address (Aggressive mode, "
            "ID authentication, PEERADDRESS=DYNAMIC)",
    chapter="IPsec (AR570S)",
    claim="With PEER=ANY + REMOTEID on the fixed router and LOCALID on the dynamic router, "
          "the dynamic side starts Aggressive Mode and the tunnel comes up; the fixed side "
          "never initiates, and a peer presenting another ID is not authenticated.",
    feature="ar-aggressive-id", topology="scenarios/ar/ar_aggressive/engine.yaml",
    peers=("engine",),
    notes=("Router B's 'dynamic' WAN address is 2.2.2.2 in the lab; nothing on Router A names "
           "it (PEER=ANY, PEER=DYNAMIC).",
           "Wrong-ID variant: Router B's LOCALID changed to RouterC (lab variant of L128-130)."),
)  # fmt: skip

INNER = ("192.168.10.10", "192.168.20.10")
OUTER = ("1.1.1.1", "2.2.2.2")
PINGS = 5


@pytest.mark.parametrize("variant", ["right-id", "wrong-id"])
def test_dynamic_side_initiates_aggressive_mode(ev, peer: str, variant: str) -> None:
    topo = HERE / ("engine.yaml" if variant == "right-id" else "engine-wrongid.yaml")
    ev.topology(topo)
    ev.config("r1", HERE / "r1.cfg", label="Router A, fixed (L122-124, L599-604)")
    r2cfg = HERE / ("r2.cfg" if variant == "right-id" else "r2-wrongid.cfg")
    ev.config("r2", r2cfg, label="Router B, dynamic (L128-130, L610-615)")
    with ExitStack() as stack:
        with ev.step(f"bring up {topo.name} (two AR570S engines)"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab, variant)


def _run(ev, lab, variant: str) -> None:
    r1, r2 = lab.node("r1"), lab.node("r2")
    with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")):
        with ev.step("h1 (LAN A, fixed side) pings LAN B first"):
            first = lab.node("h1").ping(INNER[1], count=2, interval=0.5, wait=1)
        with ev.step(f"h2 (LAN B, dynamic side) pings LAN A {PINGS} times"):
            res = lab.node("h2").ping(INNER[0], count=PINGS, interval=0.5, wait=2)
            ev.note(res.output)
    w = _ipsec.wire(ev.last_ladder(), INNER, OUTER)
    ev.check("fixed side does not initiate: no reply to LAN A's first pings (L595-597)",
             first.received, 0)  # fmt: skip
    ladder = ev.last_ladder().get("events", [])
    first_ike = next((e for e in ladder if e.get("exch_type") in (2, 4)), None)
    ev.check("the first ISAKMP message comes from the dynamic side 2.2.2.2 (L1012-1014)",
             first_ike and first_ike["src"], OUTER[1])  # fmt: skip
    ev.check("Aggressive Mode (exchange type 4), no Main Mode on the wire",
             (w["main_mode"], any(e.get("exch_type") == 4 for e in ladder)), (0, True))
    isa = _rows(ev.show(r1, "show isakmp sa", label="Router A after traffic"), "SA")
    sas = _rows(ev.show(r1, "show ipsec sa", label="Router A after traffic"), "SA")
    if variant == "right-id":
        ev.check("ID RouterB + right key: tunnel up, echo replies (L1016-1020)",
                 res.received, f">= {PINGS - 1}", ok=res.received >= PINGS - 1)  # fmt: skip
        ev.check("ESP for every echo and reply", w["esp"], f">= {2 * res.received}",
                 ok=w["esp"] >= 2 * res.received > 0)  # fmt: skip
        ev.check("Router A SHOW ISAKMP SA: peer 2.2.2.2 DES SHA", [r[1:4] for r in isa],
                 [["2.2.2.2", "DES", "SHA"]])  # fmt: skip
        ev.check("Router A SHOW IPSEC SA: ESP SA of policy vpn (PEER=DYNAMIC)",
                 [r[1:5] for r in sas], [["vpn", "1", "Valid", "ESP"]])  # fmt: skip
        b_sas = _rows(ev.show(r2, "show ipsec sa", label="Router B after traffic"), "SA")
        ev.check("SPIs mirror: A's OutSPI = B's InSPI and A's InSPI = B's OutSPI",
                 [(r[5], r[6]) for r in sas], [(r[6], r[5]) for r in b_sas])  # fmt: skip
        syslog = r1.cli("lab syslog")
        ev.check("Router A saw the peer's ID RouterB", "Id: RouterB" in syslog, True)
    else:
        ev.check("ID RouterC: not authenticated, no traffic crosses (L1016-1034)",
                 res.received, 0)  # fmt: skip
        ev.check("Router A SHOW ISAKMP SA: empty", isa, [])
        ev.check("Router A SHOW IPSEC SA: empty", sas, [])
        ev.check("no ESP on the wire", w["esp"], 0)
