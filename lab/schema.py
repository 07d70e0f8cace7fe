"""Topology YAML vocabulary and validation (the one place that knows the keys).

``load_topology(path)`` parses and checks a topology file and returns a
:class:`lab.model.Topology`. Every mistake raises :class:`TopologyError`
reading ``file:line: yaml.path: message``, before anything is created.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lab import model, yamlpos
from lab.errors import TopologyError

IFNAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,15}$")   # no "." (sysctl paths)
NODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
PORTS_RE = re.compile(r"^(\d{1,5})-(\d{1,5})$")


def _cidr(value: str) -> str:
    if "/" not in value:
        raise ValueError(f"invalid CIDR {value!r}: missing /prefix length")
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"invalid CIDR {value!r}") from None
    return value


def _addr_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NatRuleIn(_Base):
    type: Literal["static", "pat"]
    inside: str
    outside: str
    internal: str | None = None
    external: str | None = None
    address: str | None = None
    ports: str | None = None
    random: bool = False
    udp_timeout: int | None = Field(default=None, ge=1, le=86400)
    udp_stream_timeout: int | None = Field(default=None, ge=1, le=86400)

    @model_validator(mode="after")
    def _per_type(self) -> "NatRuleIn":
        if self.type == "static":
            if not self.internal or not self.external:
                raise ValueError("static NAT needs 'internal' and 'external' addresses")
            if self.address or self.ports or self.random:
                raise ValueError("'address'/'ports'/'random' belong to pat rules, not static")
            a, b = ipaddress.ip_interface(_host(self.internal)), ipaddress.ip_interface(
                _host(self.external))
            if a.network.prefixlen != b.network.prefixlen or a.version != b.version:
                raise ValueError("static NAT 'internal' and 'external' must have the same size")
            if a.version == 6 and a.network.prefixlen != 128:
                raise ValueError("static NAT of IPv6 prefixes is not supported; map addresses")
        else:
            if self.internal or self.external:
                raise ValueError("'internal'/'external' belong to static rules, not pat")
            if self.address:
                ipaddress.ip_address(self.address)
            if self.ports:
                m = PORTS_RE.match(self.ports)
                if not m or not 1 <= int(m[1]) <= int(m[2]) <= 65535:
                    raise ValueError(f"invalid port range {self.ports!r} (want LOW-HIGH)")
        return self


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_interface(value if "/" in value else value + (
            "/128" if ":" in value else "/32")))
    except ValueError:
        raise ValueError(f"invalid address {value!r}") from None


class NodeIn(_Base):
    kind: Literal["host", "router", "nat", "engine", "strongswan"]
    config: str | None = None
    dialect: Literal["ios", "ar"] | None = None
    interfaces: dict[str, str] = {}
    nat: list[NatRuleIn] = []
    clock_scale: float | None = Field(default=None, gt=0)
    syslog: str | None = None
    daemon: bool = True
    sysctls: dict[str, str | int] = {}
    options: dict[str, Any] = {}


class LinkIn(_Base):
    a: str
    b: str
    a_addr: list[Cidr] = []
    b_addr: list[Cidr] = []
    mtu: int | None = Field(default=None, ge=68, le=65535)

    _addrs = field_validator("a_addr", "b_addr", mode="before")(_addr_list)


class MemberIn(_Base):
    iface: str
    addr: list[Cidr] = []

    _addrs = field_validator("addr", mode="before")(_addr_list)


class SegmentIn(_Base):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    members: list[MemberIn] = Field(min_length=1)
    mtu: int | None = Field(default=None, ge=68, le=65535)


class RouteIn(_Base):
    dst: str
    via: str
    dev: str | None = None

    @field_validator("dst")
    @classmethod
    def _dst(cls, v: str) -> str:
        if v in ("default", "default6"):
            return v
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise ValueError(f"invalid destination {v!r} (CIDR, 'default' or 'default6')") from None
        return v

    @field_validator("via")
    @classmethod
    def _via(cls, v: str) -> str:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise ValueError(f"invalid next hop {v!r} (an IP address)") from None
        return v


class TopologyIn(_Base):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    allow_overlap: bool = False
    nodes: dict[str, NodeIn] = Field(min_length=1)
    links: list[LinkIn] = []
    segments: list[SegmentIn] = []
    routes: dict[str, list[RouteIn]] = {}


def load_topology(path: str | Path) -> model.Topology:
    """Read, validate and resolve a topology file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TopologyError(f"cannot read topology: {exc.strerror}", file=str(path)) from None
    return parse_topology(text, filename=str(path), base=path.resolve().parent)


def parse_topology(text: str, filename: str = "<string>", base: Path | None = None
                   ) -> model.Topology:
    """Validate topology YAML ``text``; relative config paths resolve against ``base``."""
    data = yamlpos.load(text, filename)
    if not isinstance(data, dict):
        raise TopologyError("a topology is a mapping with 'name' and 'nodes'", file=filename,
                            line=1)
    try:
        parsed = TopologyIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = _pydantic_msg(err)
        raise TopologyError(msg, file=filename, line=yamlpos.line_of(data, loc),
                            path=yamlpos.format_path(loc)) from None
    return _Checker(parsed, data, filename, base or Path.cwd()).build()


def _pydantic_msg(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    if kind == "missing":
        return f"missing required key {err['loc'][-1]!r}"
    if kind == "literal_error":
        return f"invalid value {err.get('input')!r}: {err['msg'].lower()}"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


class _Checker:
    """Cross-checks between parts of a topology (names, addresses, routes, NAT)."""

    def __init__(self, t: TopologyIn, raw: Any, filename: str, base: Path) -> None:
        self.t, self.raw, self.filename, self.base = t, raw, filename, base
        self.ifaces: dict[str, dict[str, tuple[Any, ...]]] = {n: {} for n in t.nodes}
        # node -> networks directly connected
        self.onlink: dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {
            n: [] for n in t.nodes}

    def fail(self, loc: tuple[Any, ...], msg: str) -> None:
        raise TopologyError(msg, file=self.filename, line=yamlpos.line_of(self.raw, loc),
                            path=yamlpos.format_path(loc))

    def endpoint(self, value: str, loc: tuple[Any, ...]) -> model.Endpoint:
        if value.count(":") != 1:
            self.fail(loc, f"{value!r}: want NODE:IFNAME")
        node, ifname = value.split(":")
        if node not in self.t.nodes:
            self.fail(loc, f"unknown node {node!r}")
        if len(ifname) > 15:
            self.fail(loc, f"interface name {ifname!r} is longer than 15 characters")
        if not IFNAME_RE.match(ifname) or ifname == "lo":
            self.fail(loc, f"invalid interface name {ifname!r}")
        if ifname in self.ifaces[node]:
            first = yamlpos.format_path(self.ifaces[node][ifname])
            self.fail(loc, f"interface {node}:{ifname} is used twice (also at {first})")
        self.ifaces[node][ifname] = loc
        return model.Endpoint(node, ifname)

    def build(self) -> model.Topology:
        t = self.t
        for name in t.nodes:
            if not NODE_RE.match(name):
                self.fail(("nodes", name), f"invalid node name {name!r} "
                          "(letter, then letters, digits, '-', '_'; at most 32)")
        links = []
        for i, ln in enumerate(t.links):
            a = self.endpoint(ln.a, ("links", i, "a"))
            b = self.endpoint(ln.b, ("links", i, "b"))
            if a.node == b.node:
                self.fail(("links", i, "b"), f"link joins node {a.node!r} to itself")
            links.append(model.Link(a, b, list(ln.a_addr), list(ln.b_addr), ln.mtu))
        segments = []
        for i, sg in enumerate(t.segments):
            members = [model.Member(self.endpoint(m.iface, ("segments", i, "members", j, "iface")),
                                    list(m.addr)) for j, m in enumerate(sg.members)]
            segments.append(model.Segment(sg.name, members, sg.mtu))
        if len({s.name for s in segments}) != len(segments):
            self.fail(("segments",), "duplicate segment name")
        self.check_addresses(links, segments)
        nodes = {name: self.node(name, n) for name, n in t.nodes.items()}
        routes = self.routes()
        return model.Topology(t.name, Path(self.filename) if self.filename else None, nodes,
                              links, segments, routes)

    def check_addresses(self, links: list[model.Link], segments: list[model.Segment]) -> None:
        # Each link/segment is one L2 network; collect (loc, node, interface) per network.
        nets: list[tuple[tuple[Any, ...], set[Any]]] = []  # (links[i] or segments[i], networks)
        seen: dict[Any, tuple[Any, ...]] = {}
        groups: list[list[tuple[tuple[Any, ...], str, str]]] = []
        for i, ln in enumerate(links):
            groups.append([(("links", i, "a_addr", k), ln.a.node, a)
                           for k, a in enumerate(ln.a_addr)]
                          + [(("links", i, "b_addr", k), ln.b.node, a)
                             for k, a in enumerate(ln.b_addr)])
        for i, sg in enumerate(segments):
            groups.append([(("segments", i, "members", j, "addr", k), m.iface.node, a)
                           for j, m in enumerate(sg.members) for k, a in enumerate(m.addr)])
        for group in groups:
            mine: set[Any] = set()
            for loc, node, a in group:
                iface = ipaddress.ip_interface(a)
                if iface.ip in seen and not self.t.allow_overlap:
                    self.fail(loc, f"duplicate address {iface.ip} (also at "
                                   f"{yamlpos.format_path(seen[iface.ip])})")
                if iface.ip == iface.network.network_address and iface.network.prefixlen < (
                        iface.max_prefixlen - 1):
                    self.fail(loc, f"{a} is a network address, not a host address")
                seen[iface.ip] = loc
                self.onlink[node].append(iface)
                if not self.t.allow_overlap:
                    for other_loc, other in nets:
                        for net in other:
                            if net.version == iface.version and net.overlaps(iface.network):
                                self.fail(loc, f"{a} overlaps {net} of "
                                               f"{yamlpos.format_path(other_loc)}")
                mine.add(iface.network)
            if group:
                nets.append((group[0][0][:2], mine))

    def node(self, name: str, n: NodeIn) -> model.Node:
        loc = ("nodes", name)
        config = None
        if n.config is not None:
            config = (self.base / n.config).resolve()
            if not config.is_file():
                self.fail(loc + ("config",), f"config file not found: {config}")
        elif n.kind in ("engine", "strongswan"):
            self.fail(loc, f"a {n.kind} node needs 'config'")
        if n.dialect is not None and n.kind != "engine":
            self.fail(loc + ("dialect",), "'dialect' applies to engine nodes only")
        if n.nat and n.kind != "nat":
            self.fail(loc + ("nat",), "'nat' rules apply to nat nodes only")
        for dev, ifname in n.interfaces.items():
            if ifname not in self.ifaces[name]:
                self.fail(loc + ("interfaces", dev), f"node {name!r} has no interface {ifname!r}")
        for i, rule in enumerate(n.nat):
            for key in ("inside", "outside"):
                ifname = getattr(rule, key)
                if ifname not in self.ifaces[name]:
                    self.fail(loc + ("nat", i, key), f"node {name!r} has no interface {ifname!r}")
            if rule.inside == rule.outside:
                self.fail(loc + ("nat", i, "outside"), "'inside' and 'outside' are the same")
        return model.Node(
            name=name, kind=n.kind, config=config,
            dialect=n.dialect or ("ios" if n.kind == "engine" else None),
            interfaces=dict(n.interfaces),
            nat=[model.NatRule(**r.model_dump()) for r in n.nat],
            clock_scale=n.clock_scale, syslog=n.syslog, daemon=n.daemon,
            sysctls={k: str(v) for k, v in n.sysctls.items()}, options=dict(n.options))

    def routes(self) -> dict[str, list[model.Route]]:
        out: dict[str, list[model.Route]] = {}
        for node, routes in self.t.routes.items():
            if node not in self.t.nodes:
                self.fail(("routes", node), f"unknown node {node!r}")
            out[node] = []
            for i, r in enumerate(routes):
                loc = ("routes", node, i)
                via = ipaddress.ip_address(r.via)
                if r.dst == "default":
                    dst_version = 4
                elif r.dst == "default6":
                    dst_version = 6
                else:
                    dst_version = ipaddress.ip_network(r.dst, strict=False).version
                if dst_version != via.version:
                    self.fail(loc + ("via",), f"next hop {via} is not IPv{dst_version}")
                if r.dev is not None and r.dev not in self.ifaces[node]:
                    self.fail(loc + ("dev",), f"node {node!r} has no interface {r.dev!r}")
                if not any(via in i.network and via != i.ip for i in self.onlink[node]):
                    self.fail(loc + ("via",), f"next hop {via} is unreachable from {node} "
                                              "(not in a connected subnet)")
                out[node].append(model.Route(r.dst, r.via, r.dev))
        return out
