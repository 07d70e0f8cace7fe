"""IPsec NAT Transparency: NAT keepalives keep an idle tunnel's PAT mapping alive.

Seed 000 L2913-2921 and L3011-3043: ``crypto isakmp nat keepalive seconds``
(5-3600) sends a UDP packet with a one-byte unencrypted payload when the
IPsec entity has neither sent nor received a packet for that long; the value
must be smaller than the NAT mapping lifetime (20 s); a 5 % jitter applies.

The PAT box's UDP mapping lifetime is 20 s and the keepalive 10 s, both on
the engines' protocol clock scaled 10:1 (conntrack runs in real time, so its
timeout is 2 real seconds). The tunnel idles 5 protocol minutes; then the
responder side sends first. With keepalives the mapping survives and the
traffic arrives; without them the mapping expires and the responder's ESP
dies in the PAT box until the initiator sends again.
"""

from __future__ import annotations

import sys
import time

import pytest

from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

SCALE = 10  # protocol seconds per real second (engines)
KEEPALIVE = 10  # protocol seconds (crypto isakmp nat keepalive 10)
MAPPING = 20  # protocol seconds: the document's NAT mapping lifetime
IDLE = 300  # protocol seconds: 5 idle minutes

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2913, 3043),
    section="IPsec NAT Transparency: NAT keepalives (crypto isakmp nat keepalive)",
    chapter="Chapter 6",
    claim="With NAT keepalives enabled (interval below the 20 s NAT mapping lifetime) a 1-byte "
    "UDP keepalive is sent whenever nothing was sent or received for the interval, so "
    "the dynamic NAT mapping of an idle tunnel stays alive.",
    feature="natt-keepalive",
    topology="topologies/natt-pat.yaml",
    peers=("engine", "strongswan"),
    notes=(
        f"Time: engines run their protocol clock {SCALE}x faster than real time; the PAT "
        f"box's conntrack timeout is {MAPPING // SCALE} real s (= {MAPPING} protocol s). "
        "Wire spacing is measured in real time and multiplied by the scale.",
        "Keepalive payload 0xFF and ports 4500/4500 follow RFC 3948 §2.3 (the seed says "
        "'1-byte unencrypted payload' only). Only the side behind the NAT sends them "
        "(RFC 3947 §4).",
        "strongSwan responder: it runs in real time and, because libipsec fakes a NAT on "
        "its own side, may send its own keepalives (charon.keep_alive, every 20 real s); "
        "they come from outside the PAT box and cannot refresh r1's mapping.",
    ),
)


@pytest.mark.parametrize("keepalive", [True, False], ids=["keepalive-10s", "no-keepalive"])
def test_idle_tunnel_through_pat(ev, peer: str, keepalive: bool) -> None:
    case = Case(
        left="pat",
        peer=peer,
        keepalive=KEEPALIVE if keepalive else None,
        udp_timeout=MAPPING // SCALE,
        clock_scale=SCALE,
    )
    with _run.lab_for(ev, case) as lab:
        first = _run.ping(ev, lab, "h1", "h2", count=3)
        ev.check("tunnel up (h1 -> h2)", first.received >= 2, True)
        with _run.captures(ev, lab, case) as caps:
            idle = IDLE / SCALE if keepalive else 3 * MAPPING / SCALE
            with ev.step(f"idle {idle:g} real s = {idle * SCALE:g} protocol s"):
                time.sleep(idle)
            ev.exec(
                lab.node("nat1"),
                ["conntrack", "-L", "-p", "udp"],
                label="PAT mappings after the idle time",
            )
            back = _run.ping(ev, lab, "h2", "h1", count=3)
            if not keepalive:
                again = _run.ping(ev, lab, "h1", "h2", count=3)
                back2 = _run.ping(ev, lab, "h2", "h1", count=3)
        wire = _run.wire_of(caps)
        for n in ("r1", case.far):
            if n.startswith("r"):
                c = (lab.node(n).cli("lab counters", json=True) or {}).get("engine", {})
                ev.note(
                    f"{n} counters: natt_keepalives_tx={c.get('natt_keepalives_tx', 0)}, "
                    f"natt_keepalives (received)={c.get('natt_keepalives', 0)}"
                )
        if keepalive:
            _check_keepalives(ev, case, wire, idle)
            ev.check(
                "after 5 idle minutes the responder side reaches h1 (mapping alive)",
                back.received,
                ">= 2",
                ok=back.received >= 2,
            )
        else:
            _check_expiry(ev, case, wire, back, again, back2)


def _check_keepalives(ev, case: Case, wire: dict[str, list[_wire.Pkt]], idle: float) -> None:
    inside, outside = wire["nat1:eth0"], wire["nat1:eth1"]
    # The idle window ends with the first ESP after it (the responder side sends again):
    # traffic restarts the keepalive timer (L2916-2919).
    t_end = min((p.t for p in inside if p.kind == "esp-udp"), default=float("inf"))
    t_end_out = min((p.t for p in outside if p.kind == "esp-udp"), default=float("inf"))
    kas_in = [p for p in inside if p.kind == "keepalive" and p.t < t_end]
    kas_out = [
        p
        for p in outside
        if p.kind == "keepalive" and p.src == case.public("r1") and p.t < t_end_out
    ]
    ev.check(
        "keepalives from r1 inside the PAT box: 1 byte 0xFF, UDP 4500 -> 4500",
        sorted({(p.src, p.sport, p.dst, p.dport, p.size) for p in kas_in}),
        [(case.wan("r1"), 4500, FAR_PUBLIC, 4500, 29)],
        how="size = IP 20 + UDP 8 + 1",
    )
    expected = int(idle * SCALE / KEEPALIVE)
    ev.check(
        f"about one keepalive per {KEEPALIVE} s over {IDLE} idle seconds",
        len(kas_in),
        f"{expected - 2}..{expected + 2}",
        ok=expected - 2 <= len(kas_in) <= expected + 2,
    )
    gaps = [round(g * SCALE, 2) for g in _wire.keepalive_gaps(kas_in)]
    ev.check(
        f"keepalive spacing: {KEEPALIVE} s minus at most 5 % jitter (protocol s)",
        _spacing_ok(gaps, KEEPALIVE),
        True,
        how=_spacing_how(gaps),
    )
    ev.check(
        f"no silence as long as the {MAPPING} s mapping lifetime",
        max(gaps, default=0) < MAPPING,
        True,
        how=f"longest gap {max(gaps, default=0)}",
    )
    ev.check(
        "every keepalive crosses the PAT box (same count outside, idle window)",
        len(kas_out),
        len(kas_in),
        ok=abs(len(kas_out) - len(kas_in)) <= 1,
    )
    ports = sorted(
        {
            p.sport
            for p in outside
            if p.src == case.public("r1") and p.kind in ("keepalive", "esp-udp")
        }
    )
    ev.check(
        "the PAT mapping kept one public port through the idle time",
        len(ports),
        1,
        how=f"public source ports {ports}",
    )
    far_kas = [p for p in outside if p.kind == "keepalive" and p.src == FAR_PUBLIC]
    if case.peer == "engine":
        ev.check("the responder (not behind NAT) sends no keepalives", len(far_kas), 0)
    else:
        ev.note(f"strongSwan sent {len(far_kas)} keepalives of its own (faked NAT)")


def _check_expiry(ev, case: Case, wire: dict[str, list[_wire.Pkt]], back, again, back2) -> None:
    inside, outside = wire["nat1:eth0"], wire["nat1:eth1"]
    ev.check(
        "no keepalives on the wire (not configured)",
        sum(1 for p in inside + outside if p.kind == "keepalive"),
        0,
    )
    ev.check("after the mapping expired the responder's traffic is lost", back.received, 0)
    r2_esp_out = [p for p in outside if p.kind == "esp-udp" and p.src == FAR_PUBLIC]
    first_back = min((p.t for p in r2_esp_out), default=None)
    lost_in = [
        p
        for p in inside
        if p.kind == "esp-udp"
        and p.dst == case.wan("r1")
        and first_back is not None
        and p.t < first_back + 2.0
    ]
    ev.check(
        "r2's ESP-in-UDP reaches the PAT box outside but is not forwarded inside",
        (len(r2_esp_out) > 0, len(lost_in)),
        (True, 0),
        how=f"{len(r2_esp_out)} ESP-in-UDP from r2 outside",
    )
    ev.check(
        "the initiator sends again: h1 -> h2 works", again.received, ">= 2", ok=again.received >= 2
    )
    ev.check(
        "then the responder's traffic arrives again (new mapping)",
        back2.received,
        ">= 2",
        ok=back2.received >= 2,
    )


def test_interval_change_applies_per_sa(ev, peer: str) -> None:
    """L3027-3032: a changed interval applies to each SA from its next keepalive on;
    ``no crypto isakmp nat keepalive`` stops them."""
    case = Case(
        left="pat", peer=peer, keepalive=KEEPALIVE, udp_timeout=MAPPING // SCALE, clock_scale=SCALE
    )
    with _run.lab_for(ev, case) as lab:
        r1 = lab.node("r1")
        first = _run.ping(ev, lab, "h1", "h2", count=2)
        ev.check("tunnel up", first.received >= 1, True)
        marks: dict[str, float] = {}
        with _run.captures(ev, lab, case, points=["nat1:eth0"]) as caps:
            with ev.step(f"idle 4 real s with keepalive {KEEPALIVE}"):
                time.sleep(4)
            with ev.step("r1(config)# crypto isakmp nat keepalive 5"):
                marks["five"] = time.time()
                r1.cli("lab config crypto isakmp nat keepalive 5")
            with ev.step("idle 4 real s"):
                time.sleep(4)
            with ev.step("r1(config)# no crypto isakmp nat keepalive"):
                marks["off"] = time.time()
                r1.cli("lab config no crypto isakmp nat keepalive")
            with ev.step("idle 3 real s"):
                time.sleep(3)
        kas = [p for p in _run.wire_of(caps)["nat1:eth0"] if p.kind == "keepalive"]
        t = [p.t for p in kas]
        before = [round((b - a) * SCALE, 2) for a, b in zip(t, t[1:]) if b < marks["five"]]
        after = [
            round((b - a) * SCALE, 2)
            for a, b in zip(t, t[1:])
            if a > marks["five"] and b < marks["off"]
        ]
        ev.check(
            f"before the change: every {KEEPALIVE} s (minus jitter)",
            _spacing_ok(before, KEEPALIVE),
            True,
            how=_spacing_how(before),
        )
        ev.check(
            "after the change: every 5 s (minus jitter)",
            _spacing_ok(after, 5),
            True,
            how=_spacing_how(after),
        )
        late = [p for p in kas if p.t > marks["off"] + 0.2]
        ev.check("no keepalive after 'no crypto isakmp nat keepalive'", len(late), 0)


#: Real-time scheduling tolerance per keepalive (the runner loop, capture timestamps,
#: a loaded test host); times SCALE in protocol seconds.
SLACK = 0.15 * SCALE


def _spacing_ok(gaps: list[float], interval: float) -> bool:
    """Median within the 5 % jitter band; every gap within the band +- SLACK."""
    if not gaps:
        return False
    median = sorted(gaps)[len(gaps) // 2]
    lo = interval * 0.95
    return lo - 0.25 <= median <= interval + 0.25 and all(
        lo - SLACK <= g <= interval + SLACK for g in gaps
    )


def _spacing_how(gaps: list[float]) -> str:
    if not gaps:
        return "no gaps measured"
    srt = sorted(gaps)
    return (
        f"{len(gaps)} gaps: min {srt[0]}, median {srt[len(srt) // 2]}, max {srt[-1]} "
        f"(tolerance +-{SLACK:g} protocol s = 0.15 real s); {gaps[:12]}"
    )


DROP_UDP9 = """table inet natt_sink {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 9 drop
  }
}
"""
SEND_UDP = (
    "import socket,sys,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
    "end=time.time()+float(sys.argv[2])\n"
    "while time.time()<end:\n s.sendto(b'x'*64,(sys.argv[1],9)); time.sleep(0.2)"
)


def test_no_keepalive_while_only_sending(ev, peer: str) -> None:
    """L2916-2919: a keepalive goes out only if nothing was sent *or* received for the
    interval; a one-way stream from h1 (h2 silently drops it) is outbound traffic."""
    case = Case(
        left="pat",
        peer=peer,
        keepalive=KEEPALIVE,
        udp_timeout=MAPPING // SCALE,
        clock_scale=SCALE,
    )
    with _run.lab_for(ev, case) as lab:
        first = _run.ping(ev, lab, "h1", "h2", count=2)
        ev.check("tunnel up", first.received >= 1, True)
        lab.node("h2").exec(["nft", "-f", "-"], input=DROP_UDP9)
        with _run.captures(ev, lab, case, points=["nat1:eth0"]) as caps:
            secs = 4 * KEEPALIVE / SCALE
            with ev.step(
                f"h1 sends UDP to h2:9 every 0.2 s for {secs:g} real s "
                f"({secs * SCALE:g} protocol s); h2 drops it silently"
            ):
                lab.node("h1").exec(
                    [sys.executable, "-c", SEND_UDP, lab.addr("h2"), str(secs)],
                    timeout=secs + 10,
                )
        pkts = _run.wire_of(caps)["nat1:eth0"]
        out = [p for p in pkts if p.kind == "esp-udp" and p.src == case.wan("r1")]
        back = [p for p in pkts if p.kind == "esp-udp" and p.dst == case.wan("r1")]
        ev.check(
            "r1 kept sending ESP-in-UDP, nothing came back",
            (len(out) >= 15, len(back)),
            (True, 0),
            how=f"{len(out)} out, {len(back)} in",
        )
        kas = [p for p in pkts if p.kind == "keepalive"]
        ev.check("no keepalive while r1 is sending", len(kas), 0)
