"""IPsec NAT Transparency: garbage on UDP 4500 is counted and dropped; the tunnel keeps working.

Seed 000 L2858-2911 defines what may arrive on the NAT-T port: IKE behind
the non-ESP marker, UDP-encapsulated ESP, and the 1-byte keepalive
(L2913-2916). Anything else is malformed input. A responder with a live
NAT-T tunnel gets short datagrams, a bare marker, a truncated IKE header,
random bytes with unknown and with its own SPI (forged from the peer's
public endpoint and from a new port), injected with scapy from the ISP
router. Each must be counted and dropped, the SA must not follow a forged
endpoint, and the tunnel must keep carrying traffic.
"""

from __future__ import annotations

import json
import sys

from reports.scenario import Scenario
from scenarios.natt import _run
from scenarios.natt._topo import FAR_PUBLIC, Case

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2858, 2916),
    section="IPsec NAT Transparency: UDP encapsulation, non-IKE marker, keepalive format",
    chapter="Chapter 6",
    claim="Only IKE behind the marker, UDP-encapsulated ESP and 1-byte keepalives belong on the "
    "NAT-T port; malformed datagrams are counted and dropped and the tunnel keeps "
    "working.",
    feature="natt-bad-input",
    topology="topologies/natt-pat.yaml",
    peers=("engine",),
    notes=(
        "Malformed NAT-D payloads (wrong hash length) are tested on the IKE engine directly: "
        "tests/engine/test_natt_natd.py.",
    ),
)

# (label, payload hex, source port): sent to r2's 4500 from r1's public address.
INJECT = """
import json, sys
from scapy.all import IP, UDP, Raw, send
d = json.loads(sys.argv[1])
for label, hexdata, sport in d["items"]:
    send(IP(src=d["src"], dst=d["dst"]) / UDP(sport=sport, dport=4500) /
         Raw(bytes.fromhex(hexdata)), verbose=False)
"""


def items(spi_in: int) -> list[tuple[str, str, int]]:
    own = spi_in.to_bytes(4, "big")
    return [
        ("1 byte, not a keepalive", "01", 4500),
        ("3 bytes (shorter than the marker)", "000000", 4500),
        ("7 bytes non-zero (shorter than an ESP header)", "11223344556677", 4500),
        ("bare non-ESP marker", "00000000", 4500),
        ("marker + 10 bytes", "00000000" + "ab" * 10, 4500),
        ("marker + truncated ISAKMP header (20 bytes)", "00000000" + "5a" * 20, 4500),
        ("ESP-in-UDP with an unknown SPI", "deadbeef" + "00000001" + "cd" * 64, 4500),
        (
            "ESP-in-UDP with r2's own SPI, garbage body",
            (own + b"\0\0\0\x07").hex() + "ef" * 64,
            4500,
        ),
        (
            "the same from a new source port (forged rebinding)",
            (own + b"\0\0\0\x08").hex() + "ef" * 64,
            31337,
        ),
        ("two-byte keepalive look-alike", "ffff", 4500),
    ]


def test_garbage_on_natt_port(ev, peer: str) -> None:
    case = Case(left="pat")
    with _run.lab_for(ev, case) as lab:
        first = _run.ping(ev, lab, "h1", "h2", count=3)
        ev.check("tunnel up through the PAT box", first.received >= 2, True)
        r2 = lab.node("r2")
        keys = r2.cli("lab keys", json=True) or []
        spi_in = next(int(k["spi"]) for k in keys if k["direction"] == "in")
        c0 = _counters(r2)
        sa0 = _run.isakmp_peer(ev.show(r2, "show crypto isakmp sa", label="before"))
        peers0 = _run.current_peers(ev.show(r2, "show crypto ipsec sa", label="before"))
        batch = items(spi_in)
        with _run.captures(ev, lab, case, points=["isp:eth1"]):
            with ev.step(
                f"inject {len(batch)} malformed datagrams x 5 to {FAR_PUBLIC}:4500 "
                f"from {case.public('r1')} (scapy on isp)"
            ):
                arg = json.dumps({"src": case.public("r1"), "dst": FAR_PUBLIC, "items": batch * 5})
                res = lab.node("isp").exec(
                    [sys.executable, "-c", INJECT, arg], check=False, timeout=60
                )
                ev.check("injection ran", res.rc, 0, how=res.stderr[-500:])
                for label, data, sport in batch:
                    ev.note(f"injected x5: {label} ({len(data) // 2} bytes, sport {sport})")
            after = _run.ping(ev, lab, "h1", "h2", count=5)
            back = _run.ping(ev, lab, "h2", "h1", count=3)
        c1 = _counters(r2)
        delta = ev.counters("r2 lab counters (engine)", c0, c1)
        ev.check(
            "the engine is alive and the tunnel still carries traffic both ways",
            (after.received >= 4, back.received >= 2),
            (True, True),
        )
        dropped = {
            k: v
            for k, v in delta.items()
            if v
            and (
                k.startswith(("in_", "ike_malformed", "ike_dropped"))
                or k in ("auth_failures", "invalid_spi")
            )
        }
        ev.check(
            "malformed datagrams were counted as drops",
            sum(dropped.values()) >= 5 * 7,
            True,
            how=f"counter deltas {dropped}",
        )
        ev.check(
            "garbage with r2's own SPI counted as authentication failures",
            delta.get("auth_failures", 0) >= 10,
            True,
            how=f"auth_failures +{delta.get('auth_failures', 0)}",
        )
        ev.check(
            "no IKE state created by the garbage, no engine errors",
            (delta.get("loop_errors", 0), delta.get("event_errors", 0)),
            (0, 0),
        )
        sa1 = _run.isakmp_peer(ev.show(r2, "show crypto isakmp sa", label="after"))
        ev.check(
            "marker-led garbage reached the IKE parser and created no ISAKMP SA",
            (delta.get("ike_rx", 0) >= 15, sa1),
            (True, sa0),
            how=f"ike_rx +{delta.get('ike_rx', 0)}",
        )
        peers1 = _run.current_peers(ev.show(r2, "show crypto ipsec sa", label="after"))
        ev.check("the SA did not follow the forged source port", peers1, peers0)


def test_keepalive_out_of_range_rejected_at_runtime(ev, peer: str) -> None:
    """``crypto isakmp nat keepalive`` 5-3600 (seed 000 L3022-3023), typed into a live router."""
    case = Case(left="pat", keepalive=20)
    with _run.lab_for(ev, case) as lab:
        r1 = lab.node("r1")
        for value in ("4", "3601", "0", "abc"):
            line = f"crypto isakmp nat keepalive {value}"
            with ev.step(f"r1(config)# {line}"):
                try:
                    out = r1.cli(f"lab config {line}")
                    err = ""
                except Exception as exc:  # the device error comes back as a failed command
                    out, err = "", str(exc)
                ev.note(err or out)
            ev.check(
                f"'{line}' rejected with the IOS caret message",
                "% Invalid input detected at '^' marker." in err,
                True,
            )
        ok = r1.cli("lab config crypto isakmp nat keepalive 5")
        ev.note(f"in range: {ok!r}")
        run = ev.show(r1, "show running-config", label="after the attempts")
        ev.check(
            "only the in-range value took effect",
            [ln.strip() for ln in run.splitlines() if "nat keepalive" in ln],
            ["crypto isakmp nat keepalive 5"],
        )
        res = _run.ping(ev, lab, "h1", "h2", count=3)
        ev.check("the router keeps working", res.received >= 2, True)


def _counters(node) -> dict[str, int]:
    data = node.cli("lab counters", json=True) or {}
    out = {k: v for k, v in (data.get("engine") or {}).items() if isinstance(v, int)}
    for k, v in (data.get("sadb") or {}).items():
        if isinstance(v, int):
            out[k] = v
    for sa in data.get("sas") or []:
        for k in ("auth_failures", "recv_errors", "replay_failures"):
            out[k] = out.get(k, 0) + int(sa.get(k, 0))
    ike = data.get("ike") or {}
    for k, v in ike.items():
        if isinstance(v, int):
            out[f"ike_{k}"] = v
    return out
