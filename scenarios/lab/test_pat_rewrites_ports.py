"""PAT box: many inside hosts share one outside address, told apart by port.

Two hosts behind ``nat1`` send UDP from the *same* source port to a server;
the server must see both from the PAT box's one outside address with two
different source ports, and the replies must reach the right inside host.
This is the lab's own NAT substrate that the NAT-T scenarios rely on.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(3253, 3277),
    section="IPsec NAT Transparency: glossary (NAT, PAT)", chapter="NAT Transparency",
    claim="PAT translates many private addresses into one routable public address; each use "
          "of the public address is tied to a specific port number so that it stays unique.",
    feature="lab-pat", topology="topologies/nat-pat.yaml")

TOPOLOGY = Path(__file__).resolve().parents[2] / SCENARIO.topology
SPORT, DPORT = 40000, 9999

# One UDP datagram from a fixed source port; prints the reply (echoed by srv).
SEND = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); "
        "s.bind(('',{sport})); s.settimeout(3); s.sendto(sys.argv[1].encode(),('{dst}',{dport})); "
        "print(s.recvfrom(100)[0].decode())")
ECHO = ("import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('',{dport})); "
        "s.settimeout(10)\n"
        "for _ in range(2):\n d,a=s.recvfrom(100); s.sendto(b'echo:'+d,a)")


def _udp(pkt, dport: int):
    from scapy.layers.inet import IP, UDP

    if IP in pkt and UDP in pkt and pkt[UDP].dport == dport:
        return pkt[IP], pkt[UDP]
    return None


def test_pat_rewrites_ports(ev) -> None:
    ev.topology(TOPOLOGY)
    with Lab.up(TOPOLOGY) as lab:
        srv_addr = lab.addr("srv")
        with ev.step("start a UDP echo responder on srv"):
            echo = lab.node("srv").popen([sys.executable, "-c", ECHO.format(dport=DPORT)])
        try:
            with ev.capture(lab, "nat1:eth0") as inside, ev.capture(lab, "srv:eth0") as outside:
                with ev.step(f"h1 and h2 each send one UDP datagram from port {SPORT}"):
                    replies = {}
                    for host in ("h1", "h2"):
                        res = lab.node(host).exec(
                            [sys.executable, "-c", SEND.format(sport=SPORT, dst=srv_addr,
                                                               dport=DPORT), host],
                            check=False, timeout=10)
                        replies[host] = res.stdout.strip()
                    outside.wait_for(lambda p: len([x for x in outside.packets
                                                    if _udp(x, DPORT)]) >= 2, timeout=5,
                                     what="two datagrams at srv")
            ev.exec(lab.node("nat1"), ["conntrack", "-L", "-p", "udp"], label="PAT mappings")
        finally:
            echo.kill()
            echo.wait(timeout=5)

        inside_src = sorted((ip.src, udp.sport) for ip, udp in filter(None, (
            _udp(p, DPORT) for p in inside.packets)))
        outside_src = sorted((ip.src, udp.sport) for ip, udp in filter(None, (
            _udp(p, DPORT) for p in outside.packets)))
        ev.check("inside: two hosts, same source port",
                 inside_src, [(lab.addr("h1"), SPORT), (lab.addr("h2"), SPORT)])
        nat_out = next(a.split("/")[0] for i in lab.topo.interfaces("nat1") if i.name == "eth1"
                       for a in i.addrs)
        ev.check("outside: every datagram comes from the PAT address",
                 sorted({a for a, _ in outside_src}), [nat_out])
        ev.check("outside: two distinct source ports (one per inside host)",
                 len({p for _, p in outside_src}), 2)
        ev.check("h1 got its own reply", replies.get("h1"), "echo:h1")
        ev.check("h2 got its own reply", replies.get("h2"), "echo:h2")
