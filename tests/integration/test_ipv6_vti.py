"""Engine <-> engine virtual tunnel interfaces (engine/dataplane/vti.py).

Tunnel interfaces are TUN devices in the engines' namespaces; the config's
routes send traffic into them and everything they carry is protected with the
tunnel's any/any SA pair (seed 000 ch. 10). IPv6 (``tunnel mode ipsec ipv6``)
and IPv4 (``ipsec ipv4``) VTIs, line protocol vs SA state, the tunnel's
``ipv6 mtu``, and junk written into the tunnel.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.integration.helpers import topo, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _tunnel(node, name: str = "Tunnel0") -> dict:
    data = node.cli(f"show interfaces {name}", json=True)
    assert data, f"{node.name}: show interfaces {name} returned nothing"
    return data[0]


def _vti_flows(node, name: str = "Tunnel0") -> list[dict]:
    return [f for f in node.cli("show crypto ipsec sa", json=True)
            if f["interface"] == name and (f["inbound_esp"] or f["inbound_ah"])]


def test_ipv6_vti_routes_and_protects(lab_factory) -> None:
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.layers.ipsec import ESP

    lab = lab_factory(topo("v6vti/vti6.yaml"))
    r1, r2 = lab.node("r1"), lab.node("r2")
    wait_for(lambda: _tunnel(r1)["line_protocol"] == "up", 15, "r1 Tunnel0 line protocol up")
    wait_for(lambda: _tunnel(r2)["line_protocol"] == "up", 5, "r2 Tunnel0 line protocol up")
    with lab.capture("r1:eth0") as cap:
        res = lab.node("h1").ping("fd00:2::10", count=4, interval=0.2, wait=2)
        time.sleep(0.3)
    assert res.received == 4, res
    esp = [p for p in cap.packets if IPv6 in p and ESP in p]
    assert not [p for p in cap.packets if ICMPv6EchoRequest in p]
    (flow,) = _vti_flows(r1)
    assert flow["crypto_map"] == "Tunnel0-head-0"
    assert (flow["local_ident"]["addr"], flow["local_ident"]["mask"]) == ("::", "0")
    out_spi = {x["spi"] for x in flow["outbound_esp"]}
    sent = [p for p in esp if p[IPv6].src == "fd00:a::1"]
    assert len(sent) >= 4 and {p[ESP].spi for p in sent} == out_spi
    assert flow["counters"]["encaps"] >= 4 and flow["counters"]["decaps"] >= 4
    # exactly one IKE SA: the higher-addressed end does not initiate at start-up as well
    assert len([s for s in r1.cli("show crypto isakmp sa", json=True)
                if s["state"] == "QM_IDLE"]) == 1
    # clear crypto sa: the line goes down, and the tunnel renegotiates (traffic or timer)
    r1.cli("clear crypto sa")
    wait_for(lambda: not _vti_flows(r1), 5, "SAs cleared")
    wait_for(lambda: "Interface Tunnel0, changed state to down" in _syslog(r1), 3,
             "%LINEPROTO-5-UPDOWN ... down")
    res = lab.node("h1").ping("fd00:2::10", count=4, interval=0.5, wait=2)
    assert res.received >= 3, res
    (flow2,) = _vti_flows(r1)
    assert {x["spi"] for x in flow2["outbound_esp"]}.isdisjoint(out_spi)
    ups = [ln for ln in _syslog(r1).splitlines() if "%LINEPROTO-5-UPDOWN: Line protocol on "
           "Interface Tunnel0, changed state to up" in ln]
    assert len(ups) == 2, _syslog(r1)


def _syslog(node) -> str:
    data = node.cli("lab syslog", json=True)
    return "\n".join(data) if isinstance(data, list) else str(data)


def test_ipv6_vti_mtu_and_junk(lab_factory) -> None:
    """``ipv6 mtu 1400`` (seed 000 L4403): bigger packets get Packet Too Big, not ESP;
    junk written into the tunnel is dropped and the tunnel keeps working."""
    from scapy.layers.inet6 import ICMPv6PacketTooBig

    lab = lab_factory(topo("v6vti/vti6.yaml"))
    r1 = lab.node("r1")
    wait_for(lambda: _tunnel(r1)["line_protocol"] == "up", 15, "Tunnel0 up")
    with lab.capture("h1:eth0") as cap:
        lab.node("h1").ping("fd00:2::10", count=1, size=1450, wait=1)
        time.sleep(0.3)
    ptb = [p for p in cap.packets if ICMPv6PacketTooBig in p]
    assert ptb and ptb[0][ICMPv6PacketTooBig].mtu == 1400, [p.summary() for p in cap.packets]
    # junk into the TUN: not IP, truncated IPv6, IPv4 header with nonsense
    junk = ("import socket\n"
            "s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)\n"
            "for b in (b'\\x00' * 3, b'\\x60' + b'\\x00' * 10, b'\\x45' + b'\\xff' * 30):\n"
            "    s.sendto(b, ('Tunnel0', 0x86DD))\n")
    r1.exec(["python3", "-c", junk], check=False, timeout=5)
    res = lab.node("h1").ping("fd00:2::10", count=2, interval=0.2, wait=2)
    assert res.received == 2, res
    assert _tunnel(r1)["line_protocol"] == "up"


def test_vti_line_protocol_down_on_psk_mismatch(lab_factory) -> None:
    """Seed 000 L4657-4659: no IKE/IPsec SAs -> the tunnel's line protocol stays down,
    nothing crosses, nothing leaves in clear."""
    from scapy.layers.inet6 import ICMPv6EchoRequest

    lab = lab_factory(topo("v6vti/vti6-badkey.yaml"))
    r1 = lab.node("r1")
    with lab.capture("r1:eth0") as cap:
        res = lab.node("h1").ping("fd00:2::10", count=3, interval=0.3, wait=1)
        time.sleep(1.0)
    assert res.received == 0
    assert _tunnel(r1)["line_protocol"] == "down"
    assert _vti_flows(r1) == []
    assert not [p for p in cap.packets if ICMPv6EchoRequest in p]


def test_ipv4_vti(lab_factory) -> None:
    """``tunnel mode ipsec ipv4`` with ``ip route ... Tunnel1``: IPv4 over IPv4 ESP."""
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.ipsec import ESP

    lab = lab_factory(topo("v6vti/vti4.yaml"))
    r1 = lab.node("r1")
    wait_for(lambda: _tunnel(r1, "Tunnel1")["line_protocol"] == "up", 15, "Tunnel1 up")
    with lab.capture("r1:eth0") as cap:
        res = lab.node("h1").ping("192.168.2.10", count=3, interval=0.2, wait=2)
        time.sleep(0.3)
    assert res.received == 3, res
    esp = [p for p in cap.packets if IP in p and ESP in p]
    assert len(esp) >= 6 and not [p for p in cap.packets if ICMP in p and ESP not in p
                                  and p[IP].dst == "192.168.2.10"]
    (flow,) = _vti_flows(r1, "Tunnel1")
    assert (flow["local_ident"]["addr"], flow["local_ident"]["mask"]) == ("0.0.0.0", "0.0.0.0")
    assert {p[ESP].spi for p in esp if p[IP].src == "10.0.0.1"} == \
        {x["spi"] for x in flow["outbound_esp"]}
    # the tunnel's own address answers through the tunnel too
    assert lab.node("h1").ping("10.9.9.2", count=1, wait=2).received == 1


def test_vti_runtime_config(lab_factory) -> None:
    """``lab config``: unrelated lines keep the tunnel's SAs; a tunnel change recreates it."""
    lab = lab_factory(topo("v6vti/vti6.yaml"))
    r1 = lab.node("r1")
    wait_for(lambda: _tunnel(r1)["line_protocol"] == "up", 15, "Tunnel0 up")
    (flow,) = _vti_flows(r1)
    r1.cli("lab config crypto isakmp keepalive 30 5")
    assert [f["outbound_esp"] for f in _vti_flows(r1)] == [flow["outbound_esp"]]
    assert lab.node("h1").ping("fd00:2::10", count=2, interval=0.2, wait=2).received == 2
    r1.cli("lab config ipv6 route fd00:77::/64 Tunnel0")
    wait_for(lambda: _tunnel(r1)["line_protocol"] == "up" and _vti_flows(r1)
             and _vti_flows(r1)[0]["outbound_esp"] != flow["outbound_esp"], 20,
             "Tunnel0 recreated and renegotiated")
    out = r1.exec(["ip", "-6", "route", "show", "fd00:77::/64"]).stdout
    assert "dev Tunnel0" in out
    res = lab.node("h1").ping("fd00:2::10", count=3, interval=0.3, wait=2)
    assert res.received >= 2, res


def test_vti_rekey_keeps_the_line_up(lab_factory) -> None:
    """``set security-association lifetime seconds 120`` in the profile, clock x20: the
    pair is replaced before it expires, traffic keeps flowing, the line never drops."""
    lab = lab_factory(topo("v6vti/vti6-rekey.yaml"))
    r1 = lab.node("r1")
    wait_for(lambda: _tunnel(r1)["line_protocol"] == "up", 15, "Tunnel0 up")
    (flow,) = _vti_flows(r1)
    first = {x["spi"] for x in flow["outbound_esp"]}
    res = lab.node("h1").ping("fd00:2::10", count=40, interval=0.2, wait=1, timeout=20)
    assert res.received >= 38, res  # 8 s real = 160 s protocol: at least one rekey
    now = {x["spi"] for f in _vti_flows(r1) for x in f["outbound_esp"]}
    assert now and now.isdisjoint(first), (first, now)
    assert "changed state to down" not in _syslog(r1)
