"""QoS pre-classify on an IPv6 IPsec tunnel interface (seed 000 ch. 9, example L4391-4404).

``interface Tunnel1`` with ``qos pre-classify``, ``ipv6 mtu 1400`` and
``tunnel protection ipsec profile greprof`` next to a physical interface with
``service-policy output policy1``: traffic routed into Tunnel1 leaves the
physical interface encrypted, its inner traffic class still visible in the
outer header for the egress policy (L4197-4199), and IPv6 packets larger than
the tunnel's IPv6 MTU are refused with ICMPv6 Packet Too Big (T28).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.ipv6 import _v6wire

HERE = Path(__file__).resolve().parent / "tunqos"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(4197, 4404),
    section="QoS for IPv6 IPsec: QoS pre-classify on an IPv6 IPsec tunnel interface (example)",
    chapter="Chapter 9",
    claim="qos pre-classify on an IPv6 IPsec tunnel interface makes the QoS configuration per "
          "tunnel: the tunnel's packets are classified on their original headers after "
          "encryption; the tunnel's ipv6 mtu 1400 applies to the traffic routed into it.",
    feature="ipv6-tunnel-qos", topology="scenarios/ipv6/tunqos/engine.yaml",
    peers=("engine",),
    notes=("The example shows no tunnel source/destination/mode, IPsec profile or IKE; lines "
           "marked '! lab:' add them (tunnel mode ipsec ipv6, as in chapter 10).",
           "No MQC queueing in the engine: service-policy is accepted and ignored; the check "
           "is that the inner traffic class is in the outer IPv6 header (what the egress "
           "classifier sees), RFC 4301 §5.1.2.1.",
           "Packet Too Big for packets over the tunnel's IPv6 MTU is inferred (spec T28)."))

H1, H2 = "2001:db8:a::10", "2001:db8:b::10"
R1_OUT, R2_OUT = "2001:db8:1::f", "2001:db8:1::e"


def test_tunnel_preclassify_and_ipv6_mtu(ev) -> None:
    topo = HERE / "engine.yaml"
    ev.topology(topo)
    ev.config("r1", HERE / "r1.cfg", label="engine (document + lab lines)")
    ev.config("r2", HERE / "r2.cfg", label="engine (mirror)")
    ev.config("r1 (seed)", HERE / "r1.seed.cfg", label="verbatim from the document")
    with ExitStack() as stack:
        with ev.step("bring up r1, r2 (engines) with hosts behind"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab)


def _run(ev, lab) -> None:
    r1, r2 = lab.node("r1"), lab.node("r2")
    run = ev.show(r1, "show running-config", label="as the engine loaded it")
    ev.check("Tunnel1 keeps qos pre-classify and ipv6 mtu 1400 (T23, T28)",
             (" qos pre-classify" in run, " ipv6 mtu 1400" in run), (True, True))
    ev.wait_for("Tunnel1 line protocol up", lambda: _tunnel(r1)["line_protocol"],
                lambda s: s == "up", "up", within=20)
    ev.show(r1, "show interfaces Tunnel1", label="tunnel up")
    with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
        for tc in (0xB8, 0x28):
            with ev.step(f"h1 pings h2 twice with traffic class 0x{tc:02x}"):
                out = ev.exec(lab.node("h1"), ["ping", "-n", "-c", "2", "-i", "0.3", "-W", "2",
                                               "-Q", f"0x{tc:02x}", H2])
            ev.check(f"echo replies (traffic class 0x{tc:02x})", "2 received" in out, True)
        time.sleep(0.3)
        keys = r1.cli("lab keys", json=True) + r2.cli("lab keys", json=True)
    recs = _v6wire.protected(cap.packets, keys)
    out_recs = [r for r in recs if r["src"] == R1_OUT and r["inner"] is not None]
    pairs = sorted({(int(r["inner"].tc), r["tclass"]) for r in out_recs
                    if r["inner"].src == H1})
    ev.check("Tunnel1's ESP from GigabitEthernet1/1/2 carries the inner traffic class in the "
             "outer header", pairs, [(0x28, 0x28), (0xB8, 0xB8)])
    ev.check("outer destination = tunnel destination, next header ESP (50)",
             sorted({(r["dst"], r["next_header"]) for r in out_recs}), [(R2_OUT, 50)])
    ev.check("no clear ICMPv6 echo between the hosts",
             _v6wire.clear_icmp6_echo(cap.packets, H1, H2), 0)
    with ev.capture(lab, "h1:eth0") as cap2:
        with ev.step("h1 sends a 1450-byte ping (1498-byte IPv6 packet) into Tunnel1"):
            ev.exec(lab.node("h1"), ["ping", "-n", "-c", "1", "-W", "1", "-s", "1450", H2],
                    label="over the tunnel's ipv6 mtu")
    ptb = _ptb_mtus(cap2.packets)
    ev.check("ICMPv6 Packet Too Big with MTU 1400 back to h1 (ipv6 mtu 1400)", ptb, [1400],
             ok=ptb[:1] == [1400])
    ev.exec(r1, ["ip", "-6", "route", "show", "dev", "Tunnel1"], label="routes into Tunnel1")
    res = lab.node("h1").ping(H2, count=2, size=1300, interval=0.3, wait=2)
    ev.check("packets under the tunnel MTU still cross", res.received, 2)


def _tunnel(node) -> dict:
    data = node.cli("show interfaces Tunnel1", json=True)
    return data[0] if data else {"line_protocol": "missing"}


def _ptb_mtus(packets) -> list[int]:
    from scapy.layers.inet6 import ICMPv6PacketTooBig

    return [int(p[ICMPv6PacketTooBig].mtu) for p in packets if ICMPv6PacketTooBig in p]
