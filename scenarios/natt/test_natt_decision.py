"""NAT-Traversal decision: float to 4500 only if both peers support NAT-T and a NAT is seen.

Seed 002 (Allied Telesis AR570S guide) L1230-1258 describes the mechanism
the same way as the IOS document: vendor IDs announce NAT-T support at the
start of phase 1, NAT-D payloads find NATs, a peer without NAT-T or a path
without NAT gives ordinary ISAKMP and IPsec, otherwise both ISAKMP and ESP
move from UDP 500 to 4500, ISAKMP on 4500 behind a non-ESP marker, and the
side behind the NAT sends keepalives. Until the AR dialect exists the
behaviour runs with IOS configurations on both engines (same protocol
behaviour).
"""

from __future__ import annotations

import time

import pytest

from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

SCALE = 5

SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt",
    lines=(1230, 1258),
    section="NAT-Traversal (NAT-T): how it works",
    chapter="IPsec overview",
    claim="Without NAT-T support on the peer, or without a NAT on the path, normal ISAKMP and "
    "IPsec are used; with both, ISAKMP and ESP move from UDP 500 to 4500, ISAKMP "
    "behind a non-ESP marker, and the side behind the NAT sends keepalives.",
    feature="natt-decision",
    topology="topologies/natt-static.yaml",
    peers=("engine",),
    notes=(
        "Run with IOS configurations (the AR570S dialect is another issue); "
        "NATTRAVERSAL=TRUE/FALSE is played by the IOS default / "
        "`no crypto ipsec nat-transparency udp-encapsulation` on r2.",
        "The NAT is a static (1:1) NAT, which can carry plain ESP, so the 'peer without "
        "NAT-T' case still works, as the document's 'normal IPsec' implies.",
        f"Keepalive case: both engines configured with `crypto isakmp nat keepalive 5`, "
        f"clocks scaled {SCALE}:1.",
    ),
)

CASES = {
    "peer-without-natt": Case(left="static", far_nat_t=False),
    "natt-and-nat": Case(left="static", keepalive=5, far_keepalive=True, clock_scale=SCALE),
}


@pytest.mark.parametrize("name", list(CASES))
def test_natt_decision(ev, peer: str, name: str) -> None:
    case = CASES[name]
    with _run.lab_for(ev, case) as lab:
        with _run.captures(ev, lab, case) as caps:
            res = _run.ping(ev, lab, "h1", "h2")
            if case.keepalive:
                with ev.step("idle 4 real s (20 protocol s) for keepalives"):
                    time.sleep(4)
        ev.check(
            "h1 reaches h2", res.received, f">= {_run.PINGS - 1}", ok=res.received >= _run.PINGS - 1
        )
        wire = _run.wire_of(caps)
        outside = wire["nat1:eth1"]
        mm = [p for p in outside if p.kind == "ike" and p.exch == _wire.MAIN_MODE]
        vid_from = sorted(
            {("r1" if p.dst == FAR_PUBLIC else "r2") for p in mm[:2] if _wire.RFC3947_VID in p.vids}
        )
        s = _wire.summary(outside)
        if name == "peer-without-natt":
            ev.check("MM1/MM2: only r1 announces NAT-T (vendor ID)", vid_from, ["r1"])
            ev.check("no NAT-D payloads (no NAT-T agreed)", sum(len(p.natd) for p in mm), 0)
            ev.check(
                "normal ISAKMP: everything on UDP 500",
                (s["ike_500"] >= 9, s["ike_4500"]),
                (True, 0),
                how=f"{s['ike_500']} IKE messages on 500",
            )
            ev.check(
                "normal IPsec: ESP as IP protocol 50 through the static NAT",
                (s["esp_proto50"] >= 2 * res.received > 0, s["esp_udp"]),
                (True, 0),
            )
        else:
            ev.check("MM1/MM2: both announce NAT-T", vid_from, ["r1", "r2"])
            ev.check(
                "NAT found: ISAKMP on 4500 behind the non-ESP marker",
                (s["ike_500"], s["ike_4500"] > 0, s["ike_4500_marker"]),
                (4, True, True),
            )
            ev.check("ESP on UDP 4500 too", (s["esp_udp"] > 0, s["esp_proto50"]), (True, 0))
            kas = [p for p in outside if p.kind == "keepalive"]
            ev.check(
                "keepalives only from the side behind the NAT (r1)",
                sorted({p.src for p in kas}),
                [case.public("r1")],
                how=f"{len(kas)} keepalives",
            )
