"""Topology model: pure dataclasses, no I/O (built by lab.schema, realised by lab.realize)."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["host", "router", "nat", "engine", "strongswan"]
FORWARDING_KINDS = frozenset({"router", "nat", "engine", "strongswan"})
DAEMON_KINDS = frozenset({"engine", "strongswan"})


@dataclass(frozen=True)
class Endpoint:
    """One interface of one node, written ``node:ifname`` in the YAML."""

    node: str
    ifname: str

    def __str__(self) -> str:
        return f"{self.node}:{self.ifname}"


@dataclass
class NatRule:
    """A NAT rule of a ``nat`` node.

    ``pat``: traffic entering ``inside`` and leaving ``outside`` gets the
    outside address (``address`` or the interface's first one) and a new
    source port. ``static``: ``internal`` <-> ``external`` 1:1 address mapping.
    """

    type: Literal["static", "pat"]
    inside: str
    outside: str
    internal: str | None = None       # static: inside address (host or prefix)
    external: str | None = None       # static: outside address (host or prefix)
    address: str | None = None        # pat: source address to use (default: outside's)
    ports: str | None = None          # pat: port range "20000-29999"
    random: bool = False              # pat: always pick a new source port (fully-random)
    udp_timeout: int | None = None    # conntrack UDP timeout (s), unreplied
    udp_stream_timeout: int | None = None  # conntrack UDP timeout (s), assured


@dataclass
class Node:
    """A node (one network namespace)."""

    name: str
    kind: Kind
    config: Path | None = None            # absolute path, checked to exist
    dialect: str | None = None            # engine: ios | ar
    interfaces: dict[str, str] = field(default_factory=dict)  # device name -> lab ifname
    nat: list[NatRule] = field(default_factory=list)
    clock_scale: float | None = None
    syslog: str | None = None
    daemon: bool = True                   # False: namespace only, daemon not started
    sysctls: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # kind-specific extras

    @property
    def forwarding(self) -> bool:
        return self.kind in FORWARDING_KINDS


@dataclass
class Link:
    """A point-to-point veth link."""

    a: Endpoint
    b: Endpoint
    a_addr: list[str] = field(default_factory=list)   # CIDR, IPv4 and/or IPv6
    b_addr: list[str] = field(default_factory=list)
    mtu: int | None = None


@dataclass
class Member:
    """One node interface attached to a segment."""

    iface: Endpoint
    addr: list[str] = field(default_factory=list)


@dataclass
class Segment:
    """A LAN: a bridge joining several node interfaces."""

    name: str
    members: list[Member]
    mtu: int | None = None


@dataclass
class Route:
    """A static route of a node; ``dst`` is a CIDR or ``default`` (IPv4)/``default6``."""

    dst: str
    via: str
    dev: str | None = None


@dataclass
class Interface:
    """Resolved interface of a node (from links and segments)."""

    name: str
    addrs: list[str]
    mtu: int | None
    peer: str             # "node:if" of the other end, or "segment:NAME"


@dataclass
class Topology:
    """A validated topology."""

    name: str
    path: Path | None
    nodes: dict[str, Node]
    links: list[Link] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    routes: dict[str, list[Route]] = field(default_factory=dict)

    def interfaces(self, node: str) -> list[Interface]:
        """Every interface of ``node``, in declaration order."""
        out: list[Interface] = []
        for link in self.links:
            if link.a.node == node:
                out.append(Interface(link.a.ifname, link.a_addr, link.mtu, str(link.b)))
            if link.b.node == node:
                out.append(Interface(link.b.ifname, link.b_addr, link.mtu, str(link.a)))
        for seg in self.segments:
            for m in seg.members:
                if m.iface.node == node:
                    out.append(Interface(m.iface.ifname, m.addr, seg.mtu, f"segment:{seg.name}"))
        return out

    def addresses(self, node: str) -> list[str]:
        """Interface addresses of ``node`` (CIDR), IPv4 first."""
        addrs = [a for i in self.interfaces(node) for a in i.addrs]
        return sorted(addrs, key=lambda a: ipaddress.ip_interface(a).version)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (saved as the run's resolved topology)."""
        d = asdict(self)
        d["path"] = str(self.path) if self.path else None
        for n in d["nodes"].values():
            n["config"] = str(n["config"]) if n["config"] else None
        for link in d["links"]:
            link["a"] = f"{link['a']['node']}:{link['a']['ifname']}"
            link["b"] = f"{link['b']['node']}:{link['b']['ifname']}"
        for seg in d["segments"]:
            for m in seg["members"]:
                m["iface"] = f"{m['iface']['node']}:{m['iface']['ifname']}"
        return d

    def to_dot(self) -> str:
        """Graphviz picture of the topology (for the report)."""
        shape = {"host": "box", "router": "ellipse", "nat": "hexagon", "engine": "doubleoctagon",
                 "strongswan": "octagon"}
        lines = [f'graph "{self.name}" {{', "  node [fontname=Helvetica];"]
        for n in self.nodes.values():
            lines.append(f'  "{n.name}" [shape={shape[n.kind]}, label="{n.name}\\n{n.kind}"];')
        for link in self.links:
            label = "\\n".join([f"{link.a.ifname} {' '.join(link.a_addr)}",
                                f"{link.b.ifname} {' '.join(link.b_addr)}"])
            lines.append(f'  "{link.a.node}" -- "{link.b.node}" [label="{label}"];')
        for seg in self.segments:
            lines.append(f'  "seg:{seg.name}" [shape=point, xlabel="{seg.name}"];')
            for m in seg.members:
                lines.append(f'  "{m.iface.node}" -- "seg:{seg.name}" '
                             f'[label="{m.iface.ifname} {" ".join(m.addr)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def topology_from_dict(d: dict[str, Any]) -> Topology:
    """Inverse of :meth:`Topology.to_dict` (used when re-attaching to a running lab)."""

    def ep(s: str) -> Endpoint:
        node, ifname = s.split(":", 1)
        return Endpoint(node, ifname)

    nodes = {}
    for name, n in d["nodes"].items():
        n = dict(n)
        n["config"] = Path(n["config"]) if n.get("config") else None
        n["nat"] = [NatRule(**r) for r in n.get("nat", [])]
        nodes[name] = Node(**n)
    links = [Link(ep(x["a"]), ep(x["b"]), x["a_addr"], x["b_addr"], x.get("mtu"))
             for x in d.get("links", [])]
    segments = [Segment(s["name"], [Member(ep(m["iface"]), m["addr"]) for m in s["members"]],
                        s.get("mtu")) for s in d.get("segments", [])]
    routes = {k: [Route(**r) for r in v] for k, v in d.get("routes", {}).items()}
    return Topology(d["name"], Path(d["path"]) if d.get("path") else None, nodes, links,
                    segments, routes)
