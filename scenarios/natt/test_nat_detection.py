"""IPsec NAT Transparency: NAT detection, port float and UDP encapsulation per NAT placement.

Seed 000 chapter 6: in Main Mode messages 1 and 2 the peers exchange vendor
IDs announcing NAT-T support (L2819-2823); MM3 and MM4 carry NAT-D payloads,
destination hash first, then source (L2838-2845); matching hashes mean no
NAT, mismatching ones make both ends traverse the NAT (L2825-2836); Quick
Mode then negotiates UDP encapsulation (L2847-2856) and ESP travels inside
UDP with checksum zero (L2880-2886), which PAT can translate (L2863-2891).

Each case runs the same two gateways with a NAT box in a different place and
captures on both sides of every NAT box: the NAT-D hashes recomputed from the
addresses at each capture point show exactly where the translation happened.
"""

from __future__ import annotations

import re

import pytest

from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2814, 2911),
    section="IPsec NAT Transparency: NAT detection (IKE phase 1), NAT traversal decision "
    "(phase 2), UDP encapsulation",
    chapter="Chapter 6",
    claim="Peers exchange NAT-T vendor IDs in MM1/MM2 and NAT-D hashes (destination first) in "
    "MM3/MM4 (AM2/AM3 in Aggressive Mode); matching hashes mean no NAT in the path, "
    "mismatching hashes make IKE and ESP traverse the NAT inside UDP (checksum zero), "
    "so the tunnel works through static NAT and PAT on either side.",
    feature="natt-detection",
    topology="topologies/natt-pat.yaml",
    peers=("engine", "strongswan"),
    notes=(
        "Ports: the seed names none; the lab uses RFC 3947/3948 (IKE floats from 500 to 4500, "
        "IKE on 4500 carries the 4-byte non-ESP marker, ESP follows the UDP header "
        "directly). The seed's '8-byte non-IKE marker' (L2898-2907) is the pre-RFC draft "
        "format and is not used.",
        "The responder lists each initiator's public address as a crypto map peer (a dynamic "
        "map would be the IOS idiom; see docs/requests/runner.md).",
        "strongSwan (libipsec) always fakes a NAT on its own side (its source NAT-D never "
        "matches) to force UDP encapsulation, so with strongSwan even the no-NAT path floats "
        "to 4500.",
    ),
)

PLACEMENTS = {
    "no-nat": Case(),
    "initiator-static-nat": Case(left="static"),
    "initiator-pat": Case(left="pat"),
    "responder-static-nat": Case(right="static"),
    "both-behind-nat": Case(left="pat", right="static"),
    "initiator-pat-aggressive-mode": Case(left="pat", aggressive=True),
}


@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_nat_detection(ev, peer: str, placement: str) -> None:
    base = PLACEMENTS[placement]
    case = Case(left=base.left, right=base.right, peer=peer, aggressive=base.aggressive)
    with _run.lab_for(ev, case) as lab:
        with _run.captures(ev, lab, case) as caps:
            res = _run.ping(ev, lab, "h1", "h2")
        ev.check(
            "h1 reaches h2 through the tunnel (at most the first echo lost)",
            res.received,
            f">= {_run.PINGS - 1}",
            ok=res.received >= _run.PINGS - 1,
        )
        _check_wire(ev, case, _run.wire_of(caps), res.received)
        _check_shows(ev, lab, case, res.received)


def _expect_natd(case: Case, p: _wire.Pkt) -> tuple[bool, bool]:
    """(dst_match, src_match) the document predicts at this capture point."""
    from_r1 = p.dst in (FAR_PUBLIC, case.wan("far"))
    sender_wan = case.wan("r1") if from_r1 else case.wan("far")
    aimed = FAR_PUBLIC if from_r1 else case.public("r1")
    src_ok = p.src == sender_wan and not (case.peer == "strongswan" and not from_r1)
    return p.dst == aimed, src_ok


def _check_wire(ev, case: Case, wire: dict[str, list[_wire.Pkt]], received: int) -> None:
    nat_in_path = case.left != "none" or case.right != "none"
    floats = nat_in_path or case.peer == "strongswan"
    first = next(iter(wire))
    s0 = _wire.summary(wire[first])
    ev.check(f"{first}: NAT-T vendor ID in MM1/MM2", s0["natt_vid"], True)
    for point, pkts in wire.items():
        natd = _wire.phase1_natd(pkts)
        if case.aggressive:  # AM2 and AM3 (AM3 only when sent in the clear)
            ev.check(
                f"{point}: AM2 (and AM3 if in the clear) carry 2 NAT-D payloads",
                [len(p.natd) for p in natd][:1]
                + [len(p.natd) for p in natd[1:] if not p.encrypted],
                [2] * len(natd),
            )
            ev.check(
                f"{point}: first NAT-D message is AM2 from {case.far}",
                bool(natd) and natd[0].src in (FAR_PUBLIC, case.wan("far")),
                True,
            )
        else:
            ev.check(
                f"{point}: MM3 and MM4 each carry 2 NAT-D payloads",
                [len(p.natd) for p in natd],
                [2, 2],
            )
        for p in natd:
            if 4500 in (p.sport, p.dport):
                continue  # AM3 after the float: its hashes describe the port-500 exchange
            seen = _wire.natd_view(p)
            exp_dst, exp_src = _expect_natd(case, p)
            ev.check(
                f"{point}: NAT-D of {p.label()} (destination hash first)",
                {"dst_match": seen["dst_match"], "src_match": seen["src_match"]},
                {"dst_match": exp_dst, "src_match": exp_src},
                how="hashes recomputed from the addresses seen at this point",
            )
        s = _wire.summary(pkts)
        if floats:
            before = 2 if case.aggressive else 4
            ev.check(
                f"{point}: IKE floated to UDP 4500 after {'AM2' if case.aggressive else 'MM4'}"
                " (with non-ESP marker)",
                (s["ike_500"], s["ike_4500"] > 0, s["ike_4500_marker"]),
                (before, True, True),
            )
            ev.check(
                f"{point}: ESP inside UDP 4500, none as IP protocol 50",
                (s["esp_udp"] >= 2 * received > 0, s["esp_proto50"]),
                (True, 0),
                how=f"{s['esp_udp']} ESP-in-UDP packets",
            )
            engine_srcs = {case.wan("r1"), case.public("r1")}
            if case.peer == "engine":
                engine_srcs |= {case.wan("far"), FAR_PUBLIC}
            ours = [p for p in pkts if p.kind == "esp-udp" and p.src in engine_srcs]
            ev.check(
                f"{point}: UDP checksum of the engines' ESP-in-UDP is zero",
                sorted({p.udp_csum for p in ours}),
                [0],
                how=f"{len(ours)} packets",
            )
            if case.peer == "strongswan":
                sw = [p for p in pkts if p.kind == "esp-udp" and p.src not in engine_srcs]
                ev.note(
                    f"{point}: strongSwan's ESP-in-UDP carries a non-zero UDP checksum "
                    f"in {sum(1 for p in sw if p.udp_csum)} of {len(sw)} packets "
                    "(libipsec sends through a normal UDP socket; RFC 3948 §2.1 says "
                    "SHOULD be zero for IPv4)"
                )
        else:
            ev.check(f"{point}: IKE stays on UDP 500 (no float)", s["ike_4500"], 0)
            ev.check(
                f"{point}: ESP stays IP protocol 50",
                s["esp_proto50"] >= 2 * received > 0,
                True,
                how=f"{s['esp_proto50']} ESP packets, {s['esp_udp']} in UDP",
            )
    if case.left == "pat":
        out = _wire.summary(wire["nat1:eth1"])
        srcs = sorted({(a, sp) for a, sp, b, dp in out["port_pairs"] if b == FAR_PUBLIC})
        ev.check(
            "outside the PAT box r1's IKE/ESP come from the PAT address",
            sorted({a for a, _ in srcs}),
            [case.public("r1")],
            how=f"source ports {srcs}",
        )


def _check_shows(ev, lab, case: Case, received: int) -> None:
    floats = case.left != "none" or case.right != "none" or case.peer == "strongswan"
    port = 4500 if floats else 500
    r1 = lab.node("r1")
    ipsec = ev.show(r1, "show crypto ipsec sa", label="after traffic")
    ev.check(
        "r1 show crypto ipsec sa: current_peer with the NAT-T port",
        _run.current_peers(ipsec),
        [f"{FAR_PUBLIC}:{port}"],
    )
    ev.check(
        "r1 show crypto ipsec sa: in use settings",
        _run.encaps_settings(ipsec),
        ["Tunnel UDP-Encaps, " if floats else "Tunnel, "],
    )
    isakmp = ev.show(r1, "show crypto isakmp sa", label="after traffic")
    ev.check(
        "r1 show crypto isakmp sa: QM_IDLE between its own and the peer's public address",
        [sorted((d, s)) for d, s, st in _run.isakmp_peer(isakmp) if st == "QM_IDLE"],
        [sorted((FAR_PUBLIC, case.wan("r1")))],
    )
    sess = ev.show(r1, "show crypto session detail", label="after traffic")
    ev.check(
        "r1 show crypto session detail: peer and IKE SA with the NAT-T port",
        (
            re.findall(r"Peer: (\S+) port (\d+)", sess),
            re.findall(r"IKE SA: local (\S+) remote (\S+)", sess),
        ),
        ([(FAR_PUBLIC, str(port))], [(f"{case.wan('r1')}/{port}", f"{FAR_PUBLIC}/{port}")]),
    )
    det = ev.show(r1, "show crypto isakmp sa detail", label="after traffic")
    caps = re.findall(r"^\d+\s+\S+\s+\S+\s+.*?\s(\w*)$", det, re.M)
    ev.check(
        "r1 show crypto isakmp sa detail: capability N (NAT-traversal) iff NAT-T is used",
        ["N" in c for c in caps],
        [floats],
        how=f"Cap. column {caps}",
    )
    c = _run.far_counters(lab, case)
    ev.check(
        f"{case.far}: echo requests decapsulated (between replies received and sent)",
        c["decaps"],
        f"{received}..{_run.PINGS}",
        ok=received <= c["decaps"] <= _run.PINGS,
    )
    if case.peer == "engine":
        far = ev.show(lab.node("r2"), "show crypto isakmp sa", label="after traffic")
        ev.check(
            "r2 show crypto isakmp sa: the initiator appears with its public address",
            [sorted((d, s)) for d, s, st in _run.isakmp_peer(far) if st == "QM_IDLE"],
            [sorted((case.wan("far"), case.public("r1")))],
        )
