"""IOS configs and topologies for engine↔engine tests, in the documents' style.

Topology: h1 -- r1 (engine) -- isp -- r2 (engine) -- h2 (as ee-chain.yaml),
written with both routers' configs into a test's directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

R1 = {"wan": "10.0.1.1", "lan": "192.168.1.1", "lan_net": "192.168.1.0", "gw": "10.0.1.254"}
R2 = {"wan": "10.0.2.1", "lan": "192.168.2.1", "lan_net": "192.168.2.0", "gw": "10.0.2.254"}


@dataclass(frozen=True)
class Tunnel:
    """Parameters shared by both ends (one test case)."""

    encr: str = "aes 256"  # ISAKMP policy ``encr``
    hash: str = "sha"
    group: int = 14
    transforms: str = "esp-aes esp-sha-hmac"
    mode: str = "tunnel"
    pfs: int | None = None
    aggressive: bool = False  # r1 initiates Aggressive Mode
    key: str = "cisco123"
    lifetime: int | None = None  # IPsec SA seconds
    lifetime_kb: int | None = None
    dynamic_responder: bool = False  # r2 uses ``crypto dynamic-map`` (no peer, no ACL)

    @property
    def id(self) -> str:
        parts = [self.encr.replace(" ", ""), self.hash, f"g{self.group}",
                 self.transforms.replace(" ", "+"), self.mode]
        if self.pfs:
            parts.append(f"pfs{self.pfs}")
        if self.aggressive:
            parts.append("am")
        if self.dynamic_responder:
            parts.append("dyn")
        return "-".join(parts)


def router_config(name: str, me: dict[str, str], peer: dict[str, str], t: Tunnel,
                  initiator: bool) -> str:
    """One router's IOS configuration."""
    if t.dynamic_responder and not initiator:
        return dynamic_config(name, me, t)
    lines = [f"hostname {name}", "!",
             "crypto isakmp policy 10", f" encr {t.encr}", f" hash {t.hash}",
             " authentication pre-share", f" group {t.group}",
             f"crypto isakmp key {t.key} address {peer['wan']}", "!"]
    if t.aggressive and initiator:
        lines += [f"crypto isakmp peer address {peer['wan']}",
                  f" set aggressive-mode password {t.key}",
                  f" set aggressive-mode client-endpoint ipv4-address {me['wan']}", "!"]
    lines += [f"crypto ipsec transform-set TS {t.transforms}", f" mode {t.mode}", "!",
              "crypto map VPN 10 ipsec-isakmp", f" set peer {peer['wan']}",
              " set transform-set TS", " match address 101"]
    if t.pfs:
        lines.append(f" set pfs group{t.pfs}")
    if t.lifetime:
        lines.append(f" set security-association lifetime seconds {t.lifetime}")
    if t.lifetime_kb:
        lines.append(f" set security-association lifetime kilobytes {t.lifetime_kb}")
    lines += ["!", "interface GigabitEthernet0/0/0", f" ip address {me['wan']} 255.255.255.0",
              " crypto map VPN", "!", "interface GigabitEthernet0/0/1",
              f" ip address {me['lan']} 255.255.255.0", "!",
              f"ip route 0.0.0.0 0.0.0.0 {me['gw']}", "!"]
    if t.mode == "transport":
        lines.append(f"access-list 101 permit ip host {me['wan']} host {peer['wan']}")
    else:
        lines.append(f"access-list 101 permit ip {me['lan_net']} 0.0.0.255 "
                     f"{peer['lan_net']} 0.0.0.255")
    return "\n".join(lines + ["!", "end", ""])


def dynamic_config(name: str, me: dict[str, str], t: Tunnel) -> str:
    """Responder with a dynamic crypto map: any peer with the key, selectors from QM."""
    return "\n".join([
        f"hostname {name}", "!", "crypto isakmp policy 10", f" encr {t.encr}", f" hash {t.hash}",
        " authentication pre-share", f" group {t.group}",
        f"crypto isakmp key {t.key} address 0.0.0.0 0.0.0.0", "!",
        f"crypto ipsec transform-set TS {t.transforms}", f" mode {t.mode}", "!",
        "crypto dynamic-map DYN 10", " set transform-set TS", "!",
        "crypto map VPN 10 ipsec-isakmp dynamic DYN", "!",
        "interface GigabitEthernet0/0/0", f" ip address {me['wan']} 255.255.255.0",
        " crypto map VPN", "!", "interface GigabitEthernet0/0/1",
        f" ip address {me['lan']} 255.255.255.0", "!",
        f"ip route 0.0.0.0 0.0.0.0 {me['gw']}", "!", "end", ""])


TOPOLOGY = """\
name: {name}
nodes:
  h1: {{kind: host}}
  r1: {{kind: engine, dialect: ios, config: r1.cfg{scale},
        interfaces: {{GigabitEthernet0/0/0: eth0, GigabitEthernet0/0/1: eth1}}}}
  isp: {{kind: router}}
  r2: {{kind: engine, dialect: ios, config: r2.cfg{scale},
        interfaces: {{GigabitEthernet0/0/0: eth0, GigabitEthernet0/0/1: eth1}}}}
  h2: {{kind: host}}
links:
  - {{a: h1:eth0, b: r1:eth1, a_addr: 192.168.1.10/24, b_addr: 192.168.1.1/24}}
  - {{a: r1:eth0, b: isp:eth0, a_addr: 10.0.1.1/24, b_addr: 10.0.1.254/24}}
  - {{a: isp:eth1, b: r2:eth0, a_addr: 10.0.2.254/24, b_addr: 10.0.2.1/24}}
  - {{a: r2:eth1, b: h2:eth0, a_addr: 192.168.2.1/24, b_addr: 192.168.2.10/24}}
routes:
  h1: [{{dst: default, via: 192.168.1.1}}]
  r1: [{{dst: default, via: 10.0.1.254}}]
  r2: [{{dst: default, via: 10.0.2.254}}]
  h2: [{{dst: default, via: 192.168.2.1}}]
"""


def write_pair(directory: Path, t: Tunnel, clock_scale: float | None = None,
               syslog: str | None = None) -> Path:
    """Write r1.cfg, r2.cfg and topology.yaml; return the topology path.

    ``syslog`` (``HOST:PORT``) makes r1 send its syslog lines there.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "r1.cfg").write_text(router_config("r1", R1, R2, t, initiator=True))
    (directory / "r2.cfg").write_text(router_config("r2", R2, R1, t, initiator=False))
    scale = f", clock_scale: {clock_scale:g}" if clock_scale else ""
    if syslog:
        scale += f", syslog: '{syslog}'"
    topo = directory / "topology.yaml"
    topo.write_text(TOPOLOGY.format(name="ee-gen", scale=scale))
    return topo
