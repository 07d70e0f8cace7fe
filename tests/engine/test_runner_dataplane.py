"""TUN, policy routing and raw sockets inside a private network namespace.

The test thread enters a fresh namespace with setns(2) (only this thread
moves), so sockets, the TUN and IPRoute() all live there.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import threading

import pytest
from pyroute2 import IPRoute

from engine.config.model import (
    AccessList,
    Ace,
    Config,
    CryptoMap,
    CryptoMapEntry,
    Interface,
    PortMatch,
)
from engine.dataplane import packet, policy, sockets, tun
from lab.nsexec import enter_netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _in_netns(name: str, fn) -> None:
    """Run ``fn()`` in a thread that lives in namespace ``name``."""
    result: list[BaseException | None] = [None]

    def body() -> None:
        try:
            enter_netns(name)  # setns(2): only this thread moves
            fn()
        except BaseException as exc:  # re-raised in the test thread
            result[0] = exc

    t = threading.Thread(target=body)
    t.start()
    t.join(20)
    assert not t.is_alive(), "namespace body hung"
    if result[0] is not None:
        raise result[0]


def _config() -> Config:
    n = ipaddress.ip_network
    acl = AccessList("101", [
        Ace("deny", 17, n("192.168.1.0/24"), n("192.168.2.0/24"), dst_port=PortMatch("eq", 53)),
        Ace("permit", None, n("192.168.1.0/24"), n("192.168.2.0/24")),
    ])
    cmap = CryptoMap("vpn", {10: CryptoMapEntry(10, match_address="101")})
    intf = Interface("Gi0/0", ifname="eth0", crypto_map="vpn")
    return Config(access_lists={"101": acl}, crypto_maps={"vpn": cmap}, interfaces={"Gi0/0": intf})


def test_plan_rules_order() -> None:
    rules = policy.plan_rules(_config(), "tunx")
    acl_rules = [r for r in rules if "fwmark" not in r and "iifname" not in r]
    assert [r["table"] for r in acl_rules] == [policy.MAIN_TABLE, policy.ENGINE_TABLE]
    assert acl_rules[0]["dport_range"] == "53:53" and acl_rules[0]["ip_proto"] == 17
    assert acl_rules[1]["src"] == "192.168.1.0" and acl_rules[1]["dst_len"] == 24
    v4 = [r["priority"] for r in rules if r["family"] == socket.AF_INET]
    assert v4 == sorted(v4) and len(set(v4)) == len(v4)


def test_flow_key() -> None:
    from scapy.layers.inet import IP, UDP

    raw = bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=1000, dport=53))
    assert packet.flow_key(raw) == ("1.2.3.4", "5.6.7.8", 17, 1000, 53)
    assert packet.flow_key(b"\x45\x00") is None
    assert packet.flow_key(b"\x00" * 40) is None


def test_tun_policy_routing_and_raw_sockets(scratch_netns: str) -> None:
    def body() -> None:
        with IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            ipr.link("add", ifname="eth0", kind="veth", peer="eth0p")
            i = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=i, address="192.168.1.1", prefixlen=24)
            ipr.link("set", index=i, state="up")
            ipr.route("add", dst="0.0.0.0/0", gateway="192.168.1.254")  # deny → main → here
            ipr.link("set", index=ipr.link_lookup(ifname="eth0p")[0], state="up")
        tun.set_sysctl("net/ipv6/conf/default/addr_gen_mode", "1")  # no RS on the TUN
        fd = tun.open_tun("tunx")
        idx = tun.link_up("tunx", mtu=1400)
        pr = policy.PolicyRouting("tunx", idx)
        assert pr.install(_config()) == []
        try:
            # 1. protected traffic (permit ACE) enters the TUN
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("192.168.1.1", 0))
            u.sendto(b"secret", ("192.168.2.7", 9999))
            r, _, _ = select.select([fd], [], [], 2)
            assert r, "permitted packet did not reach the TUN"
            key = packet.flow_key(os.read(fd, 2000))
            assert key is not None and key.dst == "192.168.2.7" and key.dport == 9999
            # 2. deny ACE (udp/53) bypasses the TUN
            u.sendto(b"dns", ("192.168.2.7", 53))
            if select.select([fd], [], [], 0.3)[0]:
                leaked = packet.flow_key(os.read(fd, 2000))
                raise AssertionError(f"denied flow entered the TUN: {leaked}")
            # 3. the engine's marked sockets bypass the TUN
            m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            m.setsockopt(socket.SOL_SOCKET, sockets.SO_MARK, policy.ENGINE_MARK)
            m.bind(("192.168.1.1", 0))
            m.sendto(b"x", ("192.168.2.7", 9999))
            assert not select.select([fd], [], [], 0.3)[0], "marked packet entered the TUN"
            # 4. raw ESP send + receive (local delivery)
            s = sockets.Sockets.open(policy.ENGINE_MARK, ike_port=500, natt_port=4500)
            from scapy.layers.inet import IP
            from scapy.layers.ipsec import ESP

            pkt = bytes(IP(src="192.168.1.1", dst="192.168.1.1") / ESP(spi=0x1234, seq=1,
                                                                   data=b"z" * 40))
            s.send_ip(pkt, "192.168.1.1")
            r, _, _ = select.select([s.esp], [], [], 2)
            assert r
            got = s.esp.recv(2000)
            assert got[9] == 50 and got[20:24] == b"\x00\x00\x12\x34"
            # 5. UDP with pktinfo gives the local address
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.sendto(b"\x00\x00\x00\x00ike", ("192.168.1.1", 4500))
            select.select([s.natt], [], [], 2)
            data, src, local = sockets.recv_udp(s.natt)
            assert data.endswith(b"ike") and local == "192.168.1.1"
            sockets.send_udp(s.natt, b"reply", src, local)
            assert c.recv(100) == b"reply"
            s.close()
        finally:
            pr.remove()
            os.close(fd)

    _in_netns(scratch_netns, body)


def test_plan_rules_transport_own_source() -> None:
    """``permit ip host <ours> host <peer>``: destination-only rule, own table with prefsrc."""
    n = ipaddress.ip_network
    acl = AccessList("102", [Ace("permit", None, n("10.0.1.1/32"), n("10.0.2.1/32"))])
    cmap = CryptoMap("vpn", {10: CryptoMapEntry(10, match_address="102")})
    cfg = Config(access_lists={"102": acl}, crypto_maps={"vpn": cmap},
                 interfaces={"Gi0/0": Interface("Gi0/0", ifname="eth0", crypto_map="vpn")})
    rules = [r for r in policy.plan_rules(cfg, "tunx", local_addrs={"10.0.1.1"})
             if "_prefsrc" in r]
    assert len(rules) == 1
    r = rules[0]
    assert r["_prefsrc"] == "10.0.1.1" and "src" not in r and r["dst"] == "10.0.2.1"
    assert r["table"] == policy.ENGINE_TABLE + 1
    # not ours: ordinary source match
    plain = policy.plan_rules(cfg, "tunx", local_addrs={"10.9.9.9"})
    assert not any("_prefsrc" in r for r in plain)
