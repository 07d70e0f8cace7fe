"""The lab on the real network: routes, PAT, static NAT, loss, capture, faults."""

from __future__ import annotations

import re
import subprocess

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import rdpcap

from lab.errors import LabCommandError

SEND_UDP = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); "
            "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); "
            "s.bind(('',int(sys.argv[2]))); [s.sendto(b'x'*8,(sys.argv[1],int(sys.argv[3]))) "
            "for _ in range(2)]")


def send_udp(node, dst: str, sport: int, dport: int) -> None:
    node.exec(["python3", "-c", SEND_UDP, dst, str(sport), str(dport)])


@pytest.mark.topology("topologies/chain.yaml")
def test_chain_ping_v4_v6(lab) -> None:
    r = lab.node("h1").ping(lab.addr("h2"), count=3, interval=0.05)
    assert (r.sent, r.received, r.loss) == (3, 3, 0.0) and r.rtt_avg_ms is not None
    r6 = lab.h2.ping(lab.addr("h1", 6), count=2, interval=0.05, wait=2)
    assert r6.received == 2
    # interface names inside a node are the YAML's; forwarding only on routers
    out = lab.r1.exec(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip()
    assert out == "1" and lab.h1.exec("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "0"
    assert re.findall(r"\d+: (\w+)[@:]", lab.r1.exec(["ip", "-o", "link"]).stdout) == [
        "lo", "eth1", "eth0"]


@pytest.mark.topology("topologies/chain.yaml")
def test_chain_needs_the_routes(lab) -> None:
    # Remove the ISP's route back to site 2: h1 -> h2 now fails, h1 -> isp works.
    lab.node("isp").exec(["ip", "route", "del", "192.168.2.0/24"])
    assert lab.h1.ping(lab.addr("h2"), count=1, wait=0.3).received == 0
    assert lab.h1.ping("10.0.1.254", count=1).received == 1


@pytest.mark.topology("topologies/chain.yaml")
def test_exec_raises_with_details(lab) -> None:
    with pytest.raises(LabCommandError) as info:
        lab.h1.exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
    e = info.value
    assert (e.node, e.rc, e.stdout.strip(), e.stderr.strip()) == ("h1", 3, "out", "err")
    rc, out, _ = lab.h1.exec(["sh", "-c", "exit 4"], check=False)
    assert rc == 4


@pytest.mark.topology("topologies/nat-pat.yaml")
def test_pat_rewrites_source_ports(lab) -> None:
    srv = lab.addr("srv")
    with lab.capture("nat1:eth0") as inside, lab.capture("srv:eth0") as outside:
        send_udp(lab.h1, srv, 500, 500)
        send_udp(lab.h2, srv, 500, 500)
        outside.wait_for(lambda p: UDP in p and p[IP].src == "203.0.113.1" and
                         p[UDP].sport != 500, timeout=3)
    inner = {(p[IP].src, p[UDP].sport) for p in inside.packets if UDP in p}
    outer = {(p[IP].src, p[UDP].sport) for p in outside.packets if UDP in p}
    assert inner == {("192.168.10.11", 500), ("192.168.10.12", 500)}
    # both hosts appear as the one outside address; the second got a new port
    assert {a for a, _ in outer} == {"203.0.113.1"} and len(outer) == 2
    assert 500 in {p for _, p in outer}
    # the pcap files are real (Wireshark-readable) and hold the same packets
    assert len(rdpcap(str(outside.pcap))) == len(outside.packets)
    ct = lab.nat1.exec(["conntrack", "-L", "-p", "udp"]).stdout
    mapped = re.findall(r"src=(192\.168\.10\.1[12]) dst=203\.0\.113\.100 sport=500 dport=500 .*?"
                        r"src=203\.0\.113\.100 dst=203\.0\.113\.1 sport=500 dport=(\d+)", ct)
    assert {m[0] for m in mapped} == {"192.168.10.11", "192.168.10.12"}
    assert len({m[1] for m in mapped}) == 2
    # NAT flush: entries gone, the UDP timeout from the YAML applies to new ones
    assert lab.faults.nat_flush("nat1") >= 2
    assert "192.168.10.11" not in lab.nat1.exec(["conntrack", "-L"], check=False).stdout
    send_udp(lab.h1, srv, 501, 500)
    ct = lab.nat1.exec(["conntrack", "-L", "-p", "udp"]).stdout
    timeout = int(re.search(r"udp\s+17\s+(\d+)\s", ct)[1])
    assert 25 <= timeout <= 30


@pytest.mark.topology("topologies/nat-pat.yaml")
def test_nat_rebind_gives_a_new_port(lab) -> None:
    srv = lab.addr("srv")

    def outside_port() -> int:
        with lab.capture("srv:eth0") as cap:
            send_udp(lab.h1, srv, 4500, 4500)
            p = cap.wait_for(lambda p: UDP in p and p[UDP].dport == 4500, timeout=3)
        return p[UDP].sport

    first = outside_port()
    assert outside_port() == first            # mapping kept while conntrack holds it
    lab.faults.nat_rebind("nat1")
    second = outside_port()
    assert second != first and 10000 <= second <= 19999
    lab.faults.nat_rebind("nat1")
    assert 20000 <= outside_port() <= 29999


@pytest.mark.topology("topologies/nat-static.yaml")
def test_static_nat_maps_both_ways(lab) -> None:
    with lab.capture("srv:eth0") as cap:
        assert lab.h1.ping(lab.addr("srv"), count=1).received == 1
    assert {p[IP].src for p in cap.packets if ICMP in p and p[ICMP].type == 8} == {
        "198.51.100.10"}
    # inbound to the external address reaches h1's internal one
    with lab.capture("h1:eth0") as cap:
        assert lab.srv.ping("198.51.100.10", count=1).received == 1
    assert {p[IP].dst for p in cap.packets if ICMP in p and p[ICMP].type == 8} == {
        "192.168.20.10"}


@pytest.mark.topology("topologies/chain.yaml")
def test_loss_30_percent_shows_in_ping(lab) -> None:
    lab.faults.loss("r1:eth0", 30, direction="out")
    r = lab.h1.ping(lab.addr("h2"), count=200, interval=0.002, wait=0.5)
    assert 15 <= r.loss <= 45, r.output   # binomial(200, 0.3): 6 sigma ~ 19 points
    lab.faults.clear_loss("r1:eth0")
    assert lab.h1.ping(lab.addr("h2"), count=20, interval=0.002).loss == 0


@pytest.mark.topology("topologies/chain.yaml")
def test_link_down_up_and_mtu(lab) -> None:
    lab.faults.link_down("isp:eth1")
    assert lab.h1.ping(lab.addr("h2"), count=1, wait=0.3).received == 0
    lab.faults.link_up("isp:eth1")
    assert lab.h1.ping(lab.addr("h2"), count=2, wait=2).received >= 1
    lab.faults.mtu("r1:eth0", 1300)
    lab.faults.mtu("isp:eth0", 1300)
    r = lab.h1.exec(["ping", "-c1", "-W1", "-M", "do", "-s", "1400", lab.addr("h2")], check=False)
    assert r.rc != 0 and "1300" in (r.stdout + r.stderr)


@pytest.mark.topology("topologies/ten-nodes.yaml")
def test_ten_nodes_segment(lab) -> None:
    assert lab.h1.ping(lab.addr("h2"), count=1).received == 1
    assert lab.h3.ping(lab.addr("h4"), count=1).received == 1
    assert lab.h4.ping(lab.addr("h1"), count=1).received == 1


def test_nothing_in_root_namespace() -> None:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not re.search(r"\d+: (s\d+p\d+|br\d+|eth\d+)@", links)


@pytest.mark.topology("topologies/chain.yaml")
def test_capture_keeps_packets_seen_just_before_stop(lab) -> None:
    for _ in range(5):
        with lab.capture("r2:eth1") as cap:
            lab.h1.ping(lab.addr("h2"), count=3, interval=0.01)
        echo = [p for p in cap.packets if ICMP in p]
        assert len(echo) == 6          # 3 requests out, 3 replies in, none lost at stop
        assert {p.direction for p in echo} == {"in", "out"}


INLINE = """\
name: inline
nodes:
  a: {kind: host, sysctls: {net.ipv4.conf.all.log_martians: 1}}
  b: {kind: router}
  c: {kind: host}
links:
  - {a: a:eth0, b: b:eth0, a_addr: [10.7.0.1/24, "fd07::1/64"], b_addr: [10.7.0.2/24, "fd07::2/64"],
     mtu: 1400}
segments:
  - name: lan
    mtu: 1300
    members:
      - {iface: b:lan0, addr: [10.7.1.1/24, "fd07:1::1/64"]}
      - {iface: c:eth0, addr: [10.7.1.2/24, "fd07:1::2/64"]}
routes:
  a: [{dst: 10.7.1.0/24, via: 10.7.0.2, dev: eth0}, {dst: "fd07:1::/64", via: "fd07::2"}]
  c: [{dst: default, via: 10.7.1.1}, {dst: default6, via: "fd07:1::1"}]
"""


def test_inline_topology_sysctls_mtu_dev_routes(lab_factory) -> None:
    from lab.schema import parse_topology

    lab = lab_factory(parse_topology(INLINE, "inline.yaml"))
    a = lab.node("a")
    assert a.exec("cat /proc/sys/net/ipv4/conf/all/log_martians").stdout.strip() == "1"
    assert "mtu 1400" in a.exec("ip link show eth0").stdout
    assert "mtu 1300" in lab.c.exec("ip link show eth0").stdout
    assert "10.7.1.0/24 via 10.7.0.2 dev eth0" in a.exec("ip route").stdout
    assert a.ping("10.7.1.2", count=1).received == 1
    assert a.ping("fd07:1::2", count=1).received == 1
    assert lab.addresses()["fd07:1::2"] == "c"


PREFIX_NAT = """\
name: pfx
nodes:
  h1: {kind: host}
  h2: {kind: host}
  nat1:
    kind: nat
    nat:
      - {type: static, inside: eth0, outside: eth1, internal: 192.168.20.0/28,
         external: 198.51.100.32/28}
  srv: {kind: host}
segments:
  - name: lan
    members:
      - {iface: h1:eth0, addr: 192.168.20.1/28}
      - {iface: h2:eth0, addr: 192.168.20.2/28}
      - {iface: nat1:eth0, addr: 192.168.20.14/28}
links:
  - {a: nat1:eth1, b: srv:eth0, a_addr: 198.51.100.1/24, b_addr: 198.51.100.100/24}
routes:
  h1: [{dst: default, via: 192.168.20.14}]
  h2: [{dst: default, via: 192.168.20.14}]
"""


def test_static_nat_of_a_prefix(lab_factory) -> None:
    from lab.schema import parse_topology

    lab = lab_factory(parse_topology(PREFIX_NAT, "pfx.yaml"))
    with lab.capture("srv:eth0") as cap:
        assert lab.h2.ping("198.51.100.100", count=1).received == 1
    assert {p[IP].src for p in cap.packets if ICMP in p and p[ICMP].type == 8} == {
        "198.51.100.34"}
    with lab.capture("h1:eth0") as cap:
        assert lab.srv.ping("198.51.100.33", count=1).received == 1    # proxy ARP + DNAT
    assert {p[IP].dst for p in cap.packets if ICMP in p and p[ICMP].type == 8} == {
        "192.168.20.1"}


@pytest.mark.topology("topologies/chain.yaml")
def test_loss_rules_compose_per_interface(lab) -> None:
    lab.faults.loss("r1:eth0", 100, direction="out")
    lab.faults.loss("r1:eth1", 50, direction="in")
    lab.faults.loss("r1:eth1", 0, direction="in")          # removes only that one
    assert lab.h1.ping(lab.addr("h2"), count=1, wait=0.3).received == 0
    ruleset = lab.r1.exec(["nft", "list", "table", "inet", "ilab_fault"]).stdout
    assert "out_eth0" in ruleset and "in_eth1" not in ruleset
    lab.faults.clear_loss("r1:eth0")
    assert lab.h1.ping(lab.addr("h2"), count=1).received == 1
