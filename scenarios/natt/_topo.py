"""Topologies and router configs of the NAT traversal scenarios, built per case.

One network shape, with a NAT box optionally in front of each gateway::

    h1 -- r1 --[nat1: none|static|pat]-- isp --[nat2: none|static]-- r2|s2 -- h2
    h3 -- r3 --'   (second initiator behind the same PAT box, ``two=True``)

Addresses: r1 is 192.168.1.2 behind nat1 (static NAT to 203.0.113.2, PAT to
nat1's 203.0.113.1) or 203.0.113.2 directly on the ISP segment; the far
gateway is 172.16.2.2 behind nat2 (static NAT to 198.51.100.2) or
198.51.100.2 directly. So the initiators always aim at 198.51.100.2 and the
responder accepts any peer (IOS dynamic crypto map / strongSwan ``%any``), as
remote-access gateways behind NAT are set up (the engine responder lists
each initiator's public address as a crypto map peer).

:func:`build` writes the topology YAML and the configs into a directory
(a test's artefacts) and returns the YAML path; the evidence records both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

PSK = "natt-lab-key"
FAR_PUBLIC = "198.51.100.2"
LANS = {"r1": "10.0.1", "r3": "10.0.3", "far": "10.0.2"}


@dataclass(frozen=True)
class Case:
    """One NAT arrangement.

    Attributes:
        left: NAT in front of the initiator(s): "none", "static" or "pat".
        right: NAT in front of the responder: "none" or "static".
        peer: the responder: "engine" (r2) or "strongswan" (s2).
        two: a second initiator r3 behind the same NAT box (needs ``left="pat"``).
        nat_t: ``crypto ipsec nat-transparency udp-encapsulation`` on the initiators.
        keepalive: ``crypto isakmp nat keepalive N`` on the initiators (None: off).
        udp_timeout: conntrack UDP timeout (real seconds) of nat1, both states.
        clock_scale: protocol seconds per real second of the engines.
        dpd: ``crypto isakmp keepalive`` arguments on the initiators (e.g. "10 2").
        far_nat_t: NAT-T on the engine responder (``no crypto ipsec nat-transparency ...``).
        far_keepalive: the engine responder gets ``keepalive`` configured too.
        left_peer: "strongswan" puts strongSwan ``s1`` in r1's place (the engine ``r2``
            answers); it initiates with ``swanctl --initiate``.
        sw_keepalive: ``charon.keep_alive`` of ``s1`` (real seconds; strongSwan's default 20).
        mode: "transport": the gateways protect their own traffic, host to host
            (their WAN addresses as the peer sees them), transform set in transport mode.
        aggressive: the initiators use Aggressive Mode (``crypto isakmp peer``).
    """

    left: str = "none"
    right: str = "none"
    peer: str = "engine"
    two: bool = False
    nat_t: bool = True
    keepalive: int | None = None
    udp_timeout: int | None = None
    clock_scale: float | None = None
    dpd: str | None = None
    far_nat_t: bool = True
    far_keepalive: bool = False
    left_peer: str = "engine"
    sw_keepalive: int | None = None
    mode: str = "tunnel"
    aggressive: bool = False

    @property
    def far(self) -> str:
        return "s2" if self.peer == "strongswan" else "r2"

    @property
    def initiators(self) -> tuple[str, ...]:
        if self.left_peer == "strongswan":
            return ("s1",)
        return ("r1", "r3") if self.two else ("r1",)

    @property
    def name(self) -> str:
        parts = [f"l-{self.left}", f"r-{self.right}", self.peer[:2]]
        if self.left_peer == "strongswan":
            parts.insert(0, "sw")
        if self.two:
            parts.append("two")
        if not self.nat_t:
            parts.append("nonatt")
        if not self.far_nat_t:
            parts.append("farnonatt")
        if self.keepalive:
            parts.append(f"ka{self.keepalive}")
        if self.dpd:
            parts.append("dpd")
        if self.mode != "tunnel":
            parts.append(self.mode[:5])
        if self.aggressive:
            parts.append("am")
        return "natt-" + "-".join(parts)

    def wan(self, router: str) -> str:
        """The router's own WAN address."""
        router = role(router)
        if router == "far":
            return "172.16.2.2" if self.right == "static" else FAR_PUBLIC
        if self.left == "none":
            return "203.0.113.2" if router == "r1" else "203.0.113.3"
        return "192.168.1.2" if router == "r1" else "192.168.1.3"

    def public(self, router: str) -> str:
        """Where the router's packets appear to come from on the ISP segment."""
        router = role(router)
        if router == "far":
            return FAR_PUBLIC
        if self.left == "pat":
            return "203.0.113.1"
        return "203.0.113.2" if router == "r1" else "203.0.113.3"


def role(router: str) -> str:
    """The addressing role of a node name (strongSwan ``s1`` stands where ``r1`` is)."""
    return "r1" if router == "s1" else router


def ios_config(case: Case, router: str) -> str:
    """IOS config of an initiator (``r1``/``r3``) or of the engine responder (``far``)."""
    lan = LANS[router]
    wan = case.wan(router)
    gw = _gateway(case, router)
    lines = [
        f"hostname {router if router != 'far' else 'r2'}",
        "!",
        "crypto isakmp policy 10",
        " encr aes",
        " hash sha",
        " authentication pre-share",
        " group 14",
        f"crypto isakmp key {PSK} address 0.0.0.0 0.0.0.0",
    ]
    if case.aggressive and router != "far":
        lines += [
            f"crypto isakmp peer address {FAR_PUBLIC}",
            f" set aggressive-mode password {PSK}",
            f" set aggressive-mode client-endpoint ipv4-address {wan}",
        ]
    if case.keepalive and (router != "far" or case.far_keepalive):
        lines.append(f"crypto isakmp nat keepalive {case.keepalive}")
    if router != "far" and case.dpd:
        lines.append(f"crypto isakmp keepalive {case.dpd}")
    if not (case.far_nat_t if router == "far" else case.nat_t):
        lines.append("no crypto ipsec nat-transparency udp-encapsulation")
    lines += ["!", "crypto ipsec transform-set TS esp-aes esp-sha-hmac", f" mode {case.mode}", "!"]
    if router == "far":
        # One static entry per initiator, its peer being the initiator's public
        # (post-NAT) address. (A dynamic map would be the IOS idiom; the engine
        # installs no policy routes for dynamic-map SAs yet: docs/requests/runner.md.)
        acl = []
        for i, r in enumerate(case.initiators):
            seq, num = 10 * (i + 1), 102 + i
            lines += [
                f"crypto map VPN {seq} ipsec-isakmp",
                f" set peer {case.public(r)}",
                " set transform-set TS",
                f" match address {num}",
            ]
            if case.mode == "transport":
                acl.append(f"access-list {num} permit ip host {wan} host {case.public(r)}")
            else:
                acl.append(
                    f"access-list {num} permit ip {lan}.0 0.0.0.255 {LANS[role(r)]}.0 0.0.0.255"
                )
    else:
        lines += [
            "crypto map VPN 10 ipsec-isakmp",
            f" set peer {FAR_PUBLIC}",
            " set transform-set TS",
            " match address 101",
        ]
        acl = [
            f"access-list 101 permit ip {lan}.0 0.0.0.255 {LANS['far']}.0 0.0.0.255"
            if case.mode == "tunnel"
            else f"access-list 101 permit ip host {wan} host {FAR_PUBLIC}"
        ]
    lines += [
        "!",
        "interface GigabitEthernet0/0",
        f" ip address {wan} 255.255.255.0",
        " crypto map VPN",
        "!",
        "interface GigabitEthernet0/1",
        f" ip address {lan}.1 255.255.255.0",
        "!",
        *acl,
        "!",
        f"ip route 0.0.0.0 0.0.0.0 {gw}",
        "!",
        "end",
        "",
    ]
    return "\n".join(lines)


def swanctl_config(case: Case) -> str:
    """strongSwan responder (any peer; pre-shared key for any ID), mirroring r2's config."""
    ts_local, ts_remote = (
        (f"{LANS['far']}.0/24", "10.0.0.0/16") if case.mode == "tunnel" else ("dynamic", "dynamic")
    )
    return f"""# s2: strongSwan as the NAT-T responder, mirroring r2's IOS config
# (policy: aes/sha/group 14/pre-share; transform set esp-aes esp-sha-hmac; any peer).
connections {{
  natt {{
    version = 1
    aggressive = {"yes" if case.aggressive else "no"}
    local_addrs = {case.wan("far")}
    remote_addrs = %any
    proposals = aes128-sha1-modp2048
    rekey_time = 4h
    local {{
      auth = psk
      id = {case.wan("far")}
    }}
    remote {{
      auth = psk
    }}
    children {{
      lans {{
        local_ts = {ts_local}
        remote_ts = {ts_remote}
        mode = {case.mode}
        esp_proposals = aes128-sha1
        life_time = 3600s
        rekey_time = 3240s
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-any {{
    secret = "{PSK}"
  }}
}}
"""


def swanctl_initiator(case: Case) -> str:
    """strongSwan ``s1`` in r1's place: initiates to r2 (``lab.strongswan.initiate``)."""
    me, lan = case.wan("s1"), LANS["r1"]
    return f"""# s1: strongSwan as the NAT-T initiator in r1's place (policy aes/sha/group 14/psk,
# transform set esp-aes esp-sha-hmac, as r2's IOS config).
connections {{
  natt {{
    version = 1
    local_addrs = {me}
    remote_addrs = {FAR_PUBLIC}
    proposals = aes128-sha1-modp2048
    rekey_time = 4h
    local {{
      auth = psk
      id = {me}
    }}
    remote {{
      auth = psk
      id = {FAR_PUBLIC}
    }}
    children {{
      lans {{
        local_ts = {lan}.0/24
        remote_ts = {LANS["far"]}.0/24
        esp_proposals = aes128-sha1
        life_time = 3600s
        rekey_time = 3240s
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-any {{
    secret = "{PSK}"
  }}
}}
"""


def _gateway(case: Case, router: str) -> str:
    router = role(router)
    if router == "far":
        return "172.16.2.1" if case.right == "static" else "198.51.100.254"
    return "192.168.1.1" if case.left != "none" else "203.0.113.254"


def topology(case: Case, configs: str = "") -> dict:
    """The topology as a YAML-ready dict (configs by file name, under ``configs``/)."""
    if case.two and case.left != "pat":
        raise ValueError("two initiators need left='pat'")
    nodes: dict = {"isp": {"kind": "router"}}
    links: list[dict] = []
    segments: list[dict] = []
    routes: dict = {}
    inits = case.initiators
    for r in inits:
        h, lan = "h" + r[1:], LANS[role(r)]
        nodes[h] = {"kind": "host"}
        if r == "s1":
            nodes[r] = {"kind": "strongswan", "config": f"{configs}s1.swanctl.conf"}
            if case.sw_keepalive:
                nodes[r]["options"] = {"settings": {"charon.keep_alive": case.sw_keepalive}}
        else:
            nodes[r] = {
                "kind": "engine",
                "dialect": "ios",
                "config": f"{configs}{r}.cfg",
                "interfaces": {"GigabitEthernet0/0": "eth0", "GigabitEthernet0/1": "eth1"},
            }
            if case.clock_scale:
                nodes[r]["clock_scale"] = case.clock_scale
        links.append(
            {"a": f"{h}:eth0", "b": f"{r}:eth1", "a_addr": f"{lan}.10/24", "b_addr": f"{lan}.1/24"}
        )
        routes[h] = [{"dst": "default", "via": f"{lan}.1"}]
        routes[r] = [{"dst": "default", "via": _gateway(case, r)}]
    if case.left == "none":
        segments.append(
            {
                "name": "wan1",
                "members": [
                    *({"iface": f"{r}:eth0", "addr": f"{case.wan(r)}/24"} for r in inits),
                    {"iface": "isp:eth0", "addr": "203.0.113.254/24"},
                ],
            }
        )
    else:
        rule: dict = {"type": case.left, "inside": "eth0", "outside": "eth1"}
        if case.left == "static":
            rule.update(internal=case.wan("r1"), external=case.public("r1"))
        if case.udp_timeout:
            rule.update(udp_timeout=case.udp_timeout, udp_stream_timeout=case.udp_timeout)
        nodes["nat1"] = {"kind": "nat", "nat": [rule]}
        segments.append(
            {
                "name": "lan1",
                "members": [
                    *({"iface": f"{r}:eth0", "addr": f"{case.wan(r)}/24"} for r in inits),
                    {"iface": "nat1:eth0", "addr": "192.168.1.1/24"},
                ],
            }
        )
        links.append(
            {
                "a": "nat1:eth1",
                "b": "isp:eth0",
                "a_addr": "203.0.113.1/24",
                "b_addr": "203.0.113.254/24",
            }
        )
        routes["nat1"] = [{"dst": "default", "via": "203.0.113.254"}]
    far = case.far
    if case.peer == "strongswan":
        nodes[far] = {"kind": "strongswan", "config": f"{configs}s2.swanctl.conf"}
    else:
        nodes[far] = {
            "kind": "engine",
            "dialect": "ios",
            "config": f"{configs}r2.cfg",
            "interfaces": {"GigabitEthernet0/0": "eth0", "GigabitEthernet0/1": "eth1"},
        }
        if case.clock_scale:
            nodes[far]["clock_scale"] = case.clock_scale
    nodes["h2"] = {"kind": "host"}
    if case.right == "static":
        nodes["nat2"] = {
            "kind": "nat",
            "nat": [
                {
                    "type": "static",
                    "inside": "eth0",
                    "outside": "eth1",
                    "internal": case.wan("far"),
                    "external": FAR_PUBLIC,
                }
            ],
        }
        links += [
            {
                "a": "isp:eth1",
                "b": "nat2:eth1",
                "a_addr": "198.51.100.254/24",
                "b_addr": "198.51.100.1/24",
            },
            {
                "a": "nat2:eth0",
                "b": f"{far}:eth0",
                "a_addr": "172.16.2.1/24",
                "b_addr": "172.16.2.2/24",
            },
        ]
        routes["nat2"] = [{"dst": "default", "via": "198.51.100.254"}]
    else:
        links.append(
            {
                "a": "isp:eth1",
                "b": f"{far}:eth0",
                "a_addr": "198.51.100.254/24",
                "b_addr": f"{FAR_PUBLIC}/24",
            }
        )
    links.append(
        {
            "a": f"{far}:eth1",
            "b": "h2:eth0",
            "a_addr": f"{LANS['far']}.1/24",
            "b_addr": f"{LANS['far']}.10/24",
        }
    )
    routes[far] = [{"dst": "default", "via": _gateway(case, "far")}]
    routes["h2"] = [{"dst": "default", "via": f"{LANS['far']}.1"}]
    out = {"name": case.name, "nodes": nodes, "links": links, "routes": routes}
    if segments:
        out["segments"] = segments
    return out


def build(case: Case, directory: Path, yaml_path: Path | None = None) -> Path:
    """Write every config of ``case`` into ``directory`` and the topology YAML next to
    them (or to ``yaml_path``, with config paths relative to it); return the YAML path."""
    directory.mkdir(parents=True, exist_ok=True)
    for r in case.initiators:
        if r == "s1":
            (directory / "s1.swanctl.conf").write_text(swanctl_initiator(case))
        else:
            (directory / f"{r}.cfg").write_text(ios_config(case, r))
    if case.peer == "strongswan":
        (directory / "s2.swanctl.conf").write_text(swanctl_config(case))
    else:
        (directory / "r2.cfg").write_text(ios_config(case, "far"))
    path = yaml_path or directory / f"{case.name}.yaml"
    rel = os.path.relpath(directory, path.parent)
    configs = "" if rel == "." else rel + "/"
    header = (
        f"# NAT traversal case {case.name} (generated by scenarios/natt/_topo.py)\n"
        f"#   initiators {', '.join(case.initiators)} behind: {case.left}; "
        f"responder {case.far} behind: {case.right}\n"
    )
    path.write_text(header + yaml.safe_dump(topology(case, configs), sort_keys=False))
    return path


if __name__ == "__main__":  # regenerate the committed example topologies
    root = Path(__file__).resolve().parents[2] / "topologies"
    for slug, c in {
        "natt-pat": Case(left="pat"),
        "natt-static": Case(left="static"),
        "natt-both": Case(left="pat", right="static"),
        "natt-pat-two-sw": Case(left="pat", two=True, peer="strongswan"),
    }.items():
        print(build(c, root / slug, root / f"{slug}.yaml"))
