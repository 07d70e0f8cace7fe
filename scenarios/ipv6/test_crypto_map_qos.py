"""IPv6 crypto map with ``qos pre-classify`` (seed 000 ch. 9, example L4374-4389).

The document's crypto map ``CM_V6`` (``crypto map ipv6 CM_V6 10 ipsec-isakmp``,
peer 2001:DB8:FFFF::1, ``qos pre-classify``) bound with ``ipv6 crypto map`` to
GigabitEthernet0/0/1 next to ``service-policy output policy1`` protects the IPv6
traffic its ACL names with native IPv6 ESP. Pre-classify keeps the inner
packet's L3 header visible to QoS after encryption (L4014-4016, L4127-4128):
the engine copies the inner traffic class (DSCP) into the outer IPv6 header
(RFC 4301 §5.1.2.1), so an egress policy can classify ESP by it.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.ios import _ipsec
from scenarios.ipv6 import _v6wire

HERE = Path(__file__).resolve().parent / "cmap"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(4124, 4389),
    section="QoS for IPv6 IPsec: QoS pre-classify on an IPv6 crypto map (example)",
    chapter="Chapter 9",
    claim="An IPv6 crypto map entry with qos pre-classify, applied with ipv6 crypto map on the "
          "egress interface, protects the IPv6 traffic of its ACL with ESP over IPv6 to its "
          "peer, and the original L3 header information (traffic class) stays available for "
          "QoS classification of the encrypted packets.",
    feature="ipv6-crypto-map-qos", topology="scenarios/ipv6/cmap/engine.yaml",
    peers=("engine", "strongswan"),
    notes=("ACL_IPV6_1, transform set set1, the IKE policy/key and the inside interface are "
           "not in the example; lines marked '! lab:' add them. r2 mirrors r1.",
           "The engine has no MQC queueing: 'service-policy output policy1' is accepted and "
           "ignored; what is checked is that the inner traffic class reaches the outer IPv6 "
           "header of the ESP packets (what a classifier after encryption sees). Crypto LLQ and "
           "QoS-group LLQ ordering (L4008-4020) are not observable without a QoS engine.",
           "strongSwan variant: ESP is UDP-encapsulated (libipsec always does)."))

H1, H2 = "2001:db8:1::10", "2001:db8:2::10"
R1_OUT, PEER = "2001:db8:ffff::2", "2001:db8:ffff::1"
TCLASSES = (0xB8, 0x00)  # DSCP EF, best effort
PINGS = 3


def test_ipv6_crypto_map_protects_and_keeps_traffic_class(ev, peer: str) -> None:
    topo = HERE / f"{peer}.yaml"
    far = "r2" if peer == "engine" else "s2"
    ev.topology(topo)
    ev.config("r1", HERE / "r1.cfg", label="engine (document + lab lines)")
    if peer == "engine":
        ev.config("r2", HERE / "r2.cfg", label="engine (mirror)")
    else:
        ev.config("s2", HERE / "s2.swanctl.conf", label="strongSwan")
    ev.config("r1 (seed)", HERE / "r1.seed.cfg", label="verbatim from the document")
    with ExitStack() as stack:
        with ev.step(f"bring up r1 (engine) and {far} ({peer})"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1", "r2") if peer == "engine" else ("r1",)):
            try:
                _run(ev, lab, peer, far)
            finally:
                if peer == "strongswan":
                    ev.show(lab.node(far), "--list-sas", label="final state")


def _run(ev, lab, peer: str, far: str) -> None:
    r1 = lab.node("r1")
    run = ev.show(r1, "show running-config", label="as the engine loaded it")
    ev.check("qos pre-classify accepted in crypto map ipv6 CM_V6 10 (T21)",
             "crypto map ipv6 CM_V6 10 ipsec-isakmp" in run and " qos pre-classify" in run, True)
    ev.check("ipv6 crypto map CM_V6 on GigabitEthernet0/0/1", " ipv6 crypto map CM_V6" in run,
             True)
    with ev.step("first traffic: h1 pings h2 until the crypto map's SAs are up"):
        warm = lab.node("h1").ping(H2, count=4, interval=0.5, wait=2)
        ev.note(warm.output)
    ev.check("first traffic brings the tunnel up (the first packets may wait for IKE)",
             warm.received, ">= 1", ok=warm.received >= 1)
    results = {}
    with ev.capture(lab, "r1:eth0", keys_from=("r1", far)) as cap:
        for tc in TCLASSES:
            with ev.step(f"h1 pings h2 {PINGS} times with traffic class 0x{tc:02x}"):
                r = lab.node("h1").exec(["ping", "-n", "-q", "-c", str(PINGS), "-i", "0.3",
                                         "-W", "2", "-Q", f"0x{tc:02x}", H2], check=False,
                                        timeout=15)
                results[tc] = r.stdout
                ev.note(r.stdout)
            time.sleep(0.2)
        keys = r1.cli("lab keys", json=True) + lab.node(far).cli(
            "lab keys" if peer == "engine" else "keys", json=True)
    for tc, out in results.items():
        ev.check(f"echo replies with traffic class 0x{tc:02x}",
                 f"{PINGS} received" in out, True)
    recs = _v6wire.protected(cap.packets, keys)
    out = [r for r in recs if r["src"] == R1_OUT]
    ev.check("r1's protected packets go to the crypto map peer 2001:DB8:FFFF::1 as ESP "
             + ("(next header 50)" if peer == "engine" else "in UDP 4500"),
             sorted({(r["dst"], r["next_header"] if peer == "engine" else r["udp"])
                     for r in out}),
             [(PEER, 50 if peer == "engine" else True)])
    ev.check("no clear ICMPv6 echo between the hosts on GigabitEthernet0/0/1",
             _v6wire.clear_icmp6_echo(cap.packets, H1, H2), 0)
    flows = [f for f in r1.cli("show crypto ipsec sa", json=True)
             if f["inbound_esp"] or f["inbound_ah"]]
    ev.show(r1, "show crypto ipsec sa ipv6", label="after traffic")
    ev.check("ESP SPIs on the wire from r1 = r1's outbound ESP SPIs in show",
             {r["esp_spi"] for r in out}, _v6wire.sa_spis(flows, "outbound_esp"),
             ok=bool(out) and {r["esp_spi"] for r in out} <= _v6wire.sa_spis(
                 flows, "outbound_esp"))
    pairs = sorted({(_inner_tc(r), r["tclass"]) for r in out if r.get("inner") is not None
                    and _is_echo(r)})
    ev.check("outer IPv6 traffic class = inner traffic class on r1's ESP (RFC 4301 §5.1.2.1; "
             "what a classifier after encryption sees)", pairs,
             sorted((tc, tc) for tc in TCLASSES))
    if peer == "strongswan":
        child = _ipsec.strongswan_child(lab.node(far)) or {}
        ev.check("strongSwan CHILD_SA installed", child.get("state"), "INSTALLED")


def _inner_tc(rec: dict) -> int:
    return int(rec["inner"].tc)


def _is_echo(rec: dict) -> bool:
    from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest

    inner = rec["inner"]
    return ICMPv6EchoRequest in inner or ICMPv6EchoReply in inner
