"""IPsec NAT Transparency with the roles swapped: strongSwan behind PAT, the engine answers.

Seed 000 L2814-2921: the responder must detect the NAT in front of its peer
from the NAT-D payloads, follow the peer to UDP 4500, carry its ESP inside
UDP, and accept the peer's 1-byte NAT keepalives (sent because the peer is
behind the NAT) without treating them as ESP or IKE. strongSwan ``s1`` sits
behind the PAT box in r1's place with ``charon.keep_alive`` of 2 s and the
PAT box's UDP mappings expire after 4 s; after an idle time the engine's side
sends first, which only works if strongSwan's keepalives kept the mapping.
"""

from __future__ import annotations

import re
import time

import pytest

from lab import strongswan
from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

MAPPING, IDLE = 4, 12  # real seconds

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2814, 2921),
    section="IPsec NAT Transparency: NAT detection, UDP encapsulation, NAT keepalives "
    "(responder side)",
    chapter="Chapter 6",
    claim="A gateway answering a peer behind PAT detects the NAT, moves to UDP 4500, carries "
    "ESP in UDP and accepts the peer's NAT keepalives, so the idle tunnel still works "
    "from its side.",
    feature="natt-responder",
    topology="topologies/natt-pat.yaml",
    peers=("strongswan",),
    notes=(
        f"strongSwan runs in real time: keepalive every 2 s (charon.keep_alive), PAT "
        f"mapping lifetime {MAPPING} s (the document's 10 s / 20 s scaled down); the "
        "contrast case keeps strongSwan's default 20 s, longer than the mapping lifetime.",
        "strongSwan initiates with swanctl --initiate (libipsec raises no acquire).",
    ),
)


@pytest.mark.parametrize("keepalive", [2, 20], ids=["keepalive-2s", "keepalive-20s-too-long"])
def test_strongswan_behind_pat_engine_responds(ev, peer: str, keepalive: int) -> None:
    case = Case(left="pat", left_peer="strongswan", sw_keepalive=keepalive, udp_timeout=MAPPING)
    with _run.lab_for(ev, case) as lab:
        r2 = lab.node("r2")
        with _run.captures(ev, lab, case) as caps:
            with ev.step("s1 initiates (swanctl --initiate)"):
                lines = strongswan.initiate(lab.node("s1"), "lans", timeout=15)
                ev.note("charon: " + " | ".join(lines[-4:]))
            first = _run.ping(ev, lab, "h1", "h2", count=3)
            with ev.step(f"idle {IDLE} s (3 x the PAT mapping lifetime)"):
                time.sleep(IDLE)
            back = _run.ping(ev, lab, "h2", "h1", count=3)
        wire = _run.wire_of(caps)
        ev.check("h1 -> h2 through the tunnel", first.received, ">= 2", ok=first.received >= 2)
        if keepalive < MAPPING:
            ev.check(
                "after the idle time r2's side reaches h1 (mapping kept by keepalives)",
                back.received,
                ">= 2",
                ok=back.received >= 2,
            )
        else:
            ev.check(
                "keepalive interval above the mapping lifetime: r2's traffic is lost",
                back.received,
                0,
            )
        outside = wire["nat1:eth1"]
        natd = [p for p in _wire.phase1_natd(outside) if p.dst == FAR_PUBLIC]
        ev.check(
            "outside the PAT box s1's NAT-D for its source does not match (NAT seen)",
            [_wire.natd_view(p)["src_match"] for p in natd],
            [False],
        )
        s = _wire.summary(outside)
        ev.check(
            "IKE floats to 4500 and ESP is UDP-encapsulated",
            (s["ike_4500"] > 0, s["esp_udp"] > 0, s["esp_proto50"]),
            (True, True, 0),
        )
        kas = [p for p in outside if p.kind == "keepalive" and p.dst == FAR_PUBLIC]
        gaps = _wire.keepalive_gaps(kas)
        c = (r2.cli("lab counters", json=True) or {}).get("engine", {})
        if keepalive < MAPPING:
            ev.check(
                f"s1's keepalives reach r2 about every {keepalive} s",
                len(kas) >= IDLE // keepalive - 1 and all(abs(g - keepalive) < 0.5 for g in gaps),
                True,
                how=f"{len(kas)} keepalives, gaps {gaps}",
            )
            ev.check(
                "r2 counted the keepalives and dropped nothing else",
                (c.get("natt_keepalives", 0) >= len(kas) > 0, c.get("in_malformed", 0)),
                (True, 0),
                how=f"natt_keepalives={c.get('natt_keepalives')}",
            )
        else:
            ev.check(f"no keepalive within {IDLE} s (strongSwan waits {keepalive} s)", len(kas), 0)
        if keepalive >= MAPPING:
            return
        sess = ev.show(r2, "show crypto session detail", label="after traffic")
        ev.check(
            "r2 show crypto session detail: the peer's public address and NAT-T port",
            re.findall(r"Peer: (\S+) port (\d+)", sess),
            [(case.public("s1"), "4500")],
        )
