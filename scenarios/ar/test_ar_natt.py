"""AR570S NAT-Traversal (seed 002 L1200-1289) against the strongSwan reference peer.

Router A runs the basic ISAKMP configuration (L102-206) plus ``SET ISAKMP
POLICY=i NATTRAVERSAL=TRUE`` (L1280) and the ``natt`` pass policy for UDP 4500
(L1287-1289).  strongSwan's libipsec always UDP-encapsulates ESP (it fakes a
NAT), so the NAT-T mechanism of L1230-1254 is exercised: NAT-D payloads in
phase 1, the move from UDP 500 to 4500 (non-ESP marker), ESP in UDP 4500.
Without NATTRAVERSAL (the default is disabled, L1142-1144) Router A sends no
NAT-D payloads and stays on UDP 500, so no UDP-encapsulated SA can be agreed
and no LAN traffic crosses.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "ar_natt"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(1142, 1289),
    section="NAT-Traversal: enabling NAT-T in the ISAKMP policy, pass policy for UDP 4500",
    chapter="IPsec (AR570S)",
    claim="With NATTRAVERSAL=TRUE and a NAT on the path, phase 1 exchanges NAT-D payloads, "
          "moves from UDP 500 to UDP 4500 and ESP is carried in UDP 4500; NAT-T is disabled "
          "by default.",
    feature="ar-nat-t", topology="scenarios/ar/ar_natt/strongswan.yaml", peers=("strongswan",),
    notes=("There is no NAT device in the lab: strongSwan's libipsec fakes one (it always "
           "encapsulates ESP in UDP 4500), which is what Router A detects.",
           "The natt pass policy is moved before vpn with SET IPSEC POLICY=natt POSITION=2 "
           "(L1282-1285 require it before ACTION=IPSEC; L1287 alone appends it).",
           "Default variant: Router A with the unmodified basic configuration; strongSwan then "
           "cannot install its SAs ('only UDP encapsulation is supported') and deletes them."),
)  # fmt: skip

INNER = ("192.168.10.10", "192.168.20.1")
OUTER = ("1.1.1.1", "2.2.2.2")
PINGS = 5


@pytest.mark.parametrize("variant", ["nattraversal-true", "default"])
def test_ar_natt_with_strongswan(ev, peer: str, variant: str) -> None:
    topo = HERE / ("strongswan.yaml" if variant != "default" else "strongswan-default.yaml")
    r1cfg = HERE / "r1.cfg" if variant != "default" else HERE.parent / "ar_ios" / "r1.cfg"
    ev.topology(topo)
    ev.config("r1", r1cfg, label="engine --dialect ar")
    ev.config("s2", HERE / "s2.swanctl.conf", label="strongSwan (Router B mirror)")
    with ExitStack() as stack:
        with ev.step(f"bring up {topo.name}"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1",)):
            try:
                _run(ev, lab, variant)
            finally:
                ev.show(lab.node("s2"), "--list-sas", label="strongSwan final state")


def _run(ev, lab, variant: str) -> None:
    r1 = lab.node("r1")
    ev.show(r1, "show isakmp policy=i", label="NAT Traversal field")
    with ev.capture(lab, "isp:eth0", keys_from=("r1", "s2")):
        with ev.step(f"h1 pings LAN B ({INNER[1]}) {PINGS} times"):
            res = lab.node("h1").ping(INNER[1], count=PINGS, interval=0.5, wait=2)
            ev.note(res.output)
    ladder = ev.last_ladder().get("events", [])
    w = _ipsec.wire(ev.last_ladder(), INNER, OUTER)
    from_a = [e for e in ladder if e.get("src") == OUTER[0] and e.get("cls") == "ike"]
    natd = sum(1 for e in from_a if "NAT-D" in e.get("payloads", []))
    on_4500 = sum(1 for e in from_a if e.get("label", "").endswith("(4500)"))
    if variant == "default":
        ev.check("NATTRAVERSAL default disabled: no NAT-D from Router A (L1142-1144)", natd, 0)
        ev.check("ISAKMP stays on UDP 500 (L1240-1242)", on_4500, 0)
        ev.check("no UDP-encapsulated ESP", w["udp_encap"], 0)
        ev.check("libipsec peer cannot install a plain-ESP SA: no echo replies", res.received, 0)
        return
    ev.check("tunnel up: echo replies (at most the first lost)", res.received,
             f">= {PINGS - 1}", ok=res.received >= PINGS - 1)  # fmt: skip
    ev.check("NAT-D payloads from Router A in phase 1 (L1232-1238)", natd, ">= 1",
             ok=natd >= 1)  # fmt: skip
    ev.check("ISAKMP moves to UDP 4500 with the non-ESP marker (L1244-1254)", on_4500,
             ">= 1", ok=on_4500 >= 1)  # fmt: skip
    ev.check("ESP in UDP 4500 for every echo and reply", w["udp_encap"],
             f">= {2 * res.received}", ok=w["udp_encap"] >= 2 * res.received > 0)  # fmt: skip
    ev.check("every ESP packet decrypts to an echo or reply", w["decrypted_icmp"], w["esp"])
    sas = _rows(ev.show(r1, "show ipsec sa", label="after traffic"), "SA")
    ev.check("SHOW IPSEC SA: ESP SA of policy vpn", [r[1:5] for r in sas],
             [["vpn", "1", "Valid", "ESP"]])  # fmt: skip
    child = _ipsec.strongswan_child(lab.node("s2")) or {}
    ev.check("strongSwan CHILD_SA installed", child.get("state"), "INSTALLED")
