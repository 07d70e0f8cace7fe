"""Static NAT box: one inside address appears outside as one fixed public address.

h1 (192.168.20.10) pings srv through ``nat1``; srv must see 198.51.100.10,
the mapped address, and a connection started from outside to 198.51.100.10
must reach h1 (1:1 NAT works in both directions, unlike PAT).
"""

from __future__ import annotations

import sys
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(3253, 3277),
    section="IPsec NAT Transparency: glossary (NAT, PAT)", chapter="NAT Transparency",
    claim="NAT translates a private IP address used inside an enterprise into a routable "
          "public address, as a one-to-one mapping.",
    feature="lab-static-nat", topology="topologies/nat-static.yaml")

TOPOLOGY = Path(__file__).resolve().parents[2] / SCENARIO.topology
INSIDE, OUTSIDE = "192.168.20.10", "198.51.100.10"
ECHO = ("import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('',7777)); "
        "s.settimeout(8); d,a=s.recvfrom(100); s.sendto(b'seen:'+d,a)")
SEND = ("import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); "
        "s.sendto(b'hello',('{dst}',7777)); print(s.recvfrom(100)[0].decode())")


def _icmp_src(packets, kind: int) -> list[str]:
    from scapy.layers.inet import ICMP, IP

    return sorted({p[IP].src for p in packets if ICMP in p and p[ICMP].type == kind})


def test_static_nat_maps_address(ev) -> None:
    ev.topology(TOPOLOGY)
    with Lab.up(TOPOLOGY) as lab:
        srv = lab.addr("srv")
        with ev.capture(lab, "nat1:eth0") as inside, ev.capture(lab, "srv:eth0") as outside:
            with ev.step(f"h1 pings srv ({srv}) 3 times"):
                res = lab.node("h1").ping(srv, count=3, interval=0.2, wait=1)
        ev.check("pings answered", res.received, 3)
        ev.check("inside: echo requests come from h1's own address",
                 _icmp_src(inside.packets, 8), [INSIDE])
        ev.check("outside: echo requests come from the mapped address",
                 _icmp_src(outside.packets, 8), [OUTSIDE])
        with ev.step(f"srv sends a datagram to the mapped address {OUTSIDE}"):
            echo = lab.node("h1").popen([sys.executable, "-c", ECHO])
            try:
                out = lab.node("srv").exec([sys.executable, "-c", SEND.format(dst=OUTSIDE)],
                                           check=False, timeout=10)
            finally:
                echo.kill()
                echo.wait(timeout=5)
        ev.check("outside-initiated traffic reaches h1 (1:1 mapping)", out.stdout.strip(),
                 "seen:hello")
        ev.exec(lab.node("nat1"), ["conntrack", "-L"], label="NAT mappings")
