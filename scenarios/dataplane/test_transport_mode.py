"""Transport mode: neither df-bit override nor pre-fragmentation applies.

"The DF bit override functionality is available only in tunnel mode: IPsec
transport mode is not affected, because it provides no encapsulating IP
header" (seed 000 L3342–3345); pre-fragmentation "does not work in IPsec
transport mode" (L574–575). Here the routers protect their own traffic
(host-to-host ACL, ``mode transport``) with ``crypto ipsec df-bit clear`` and
``crypto ipsec fragmentation before-encryption`` configured: a DF packet keeps
DF on the wire, and an oversize packet leaves as one ESP packet fragmented
after encryption, not as pre-fragments.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from scapy.layers.inet import IP

from lab import Lab
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "prefrag"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(3342, 3345),
    section="DF Bit Override Functionality with IPsec Tunnels: restrictions (and "
    "Pre-Fragmentation restrictions, L574-575)",
    chapter="Chapter 7",
    claim="In transport mode the df-bit setting does not change the DF bit and "
    "pre-fragmentation is not performed.",
    feature="df-bit-override",
    topology="scenarios/dataplane/prefrag/engine.yaml",
    peers=("engine",),
    notes=(
        "Lab configuration: both routers get a transport-mode transform set and a host-to-host "
        "crypto ACL between their outside addresses at run time; traffic is the routers' own "
        "pings (the document has no transport-mode example).",
    ),
)

R1, R2 = "192.165.200.2", "192.165.201.2"
LINES = {
    "r1": [
        "crypto ipsec transform-set tm esp-des esp-md5-hmac",
        "mode transport",
        "exit",
        f"access-list 150 permit ip host {R1} host {R2}",
        "crypto map mymap 10 ipsec-isakmp",
        "set transform-set tm",
        "match address 150",
        "exit",
        "crypto ipsec df-bit clear",
        "crypto ipsec fragmentation before-encryption",
    ],
    "r2": [
        "crypto ipsec transform-set tm esp-des esp-md5-hmac",
        "mode transport",
        "exit",
        f"access-list 150 permit ip host {R2} host {R1}",
        "crypto map mymap 10 ipsec-isakmp",
        "set transform-set tm",
        "match address 150",
        "exit",
    ],
}


def _ping(lab, size: int, df: bool, count: int = 2):
    argv = ["ping", "-n", "-c", str(count), "-i", "0.3", "-W", "2", "-s", str(size)]
    argv += ["-M", "do" if df else "dont", R2]
    return lab.node("r1").exec(argv, check=False, timeout=15)


def _esp(cap) -> list:
    return [
        p
        for p in cap.packets
        if IP in p
        and p[IP].src == R1
        and p[IP].dst == R2
        and (p[IP].proto == 50 or p[IP].flags.MF or p[IP].frag)
    ]


def test_transport_mode_ignores_df_bit_and_prefragmentation(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    with ExitStack() as stack:
        with ev.step("bring up r1 - isp (MTU 1400) - r2"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1", "r2")):
            for node, lines in LINES.items():
                with ev.step(f"configure {node}: " + " / ".join(lines)):
                    for line in lines:
                        lab.node(node).cli(f"lab config {line}")
            with ev.step("r1 pings r2: transport-mode SAs come up"):
                r = _ping(lab, 100, False, count=3)
            ev.check("r1 <-> r2 answered", r.stdout.count("bytes from") >= 2, True)
            modes = {k["mode"] for k in lab.node("r1").cli("lab keys", json=True) or []}
            ev.check("SAs in transport mode", sorted(modes), ["transport"])
            with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")) as cap:
                with ev.step("r1 pings r2 with DF set, 200 data bytes (df-bit clear configured)"):
                    small = _ping(lab, 200, True)
            pkts = _esp(cap)
            ev.check("echoes answered", small.stdout.count("bytes from"), 2)
            ev.check(
                "DF stays set on the wire (df-bit clear does not apply, L3342-3345)",
                sorted({int(bool(p[IP].flags.DF)) for p in pkts}),
                [1],
            )
            with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")) as cap2:
                with ev.step("r1 pings r2 with 1400 data bytes, DF clear (over the 1400 MTU)"):
                    big = _ping(lab, 1400, False)
            pkts = _esp(cap2)
            frags = [p for p in pkts if p[IP].flags.MF or p[IP].frag]
            unfragmented = [p for p in pkts if not (p[IP].flags.MF or p[IP].frag)]
            ev.check("echoes answered", big.stdout.count("bytes from"), 2)
            ev.check(
                "one ESP packet per datagram, fragmented after encryption (no pre-fragmentation "
                "in transport mode, L574-575)",
                {
                    "first fragments": len([p for p in frags if p[IP].frag == 0]),
                    "unfragmented ESP packets": len(unfragmented),
                },
                {"first fragments": 2, "unfragmented ESP packets": 0},
            )
