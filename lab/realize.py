"""Build a topology out of namespaces, veth pairs, bridges, addresses and routes.

Everything goes through netlink (pyroute2) and per-thread ``setns`` for
sysctls; the only subprocess is ``nft`` for NAT rules (lab.nat). Veth pairs
are created with one end in each node namespace directly (``peer`` with
``net_ns_fd``), so nothing of a lab ever appears in the root namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from pyroute2 import IPRoute, netns
from pyroute2 import config as pyroute2_config
from pyroute2.netlink.exceptions import NetlinkError

from lab import names, nat, nsexec
from lab.errors import LabError, LabTimeout, NotSupported
from lab.model import NatRule, Node, Route, Topology
from lab.state import RunState

# pyroute2 forks helper children for IPRoute(netns=...) and stops them with
# SIGTERM: they must not run our SIGTERM handler (which tears labs down).
pyroute2_config.disable_mp_signal = True

T = TypeVar("T")

DEFAULT_SYSCTLS = {
    # No DAD: IPv6 addresses are usable at once (no 1-2 s "tentative" wait).
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.default.accept_ra": "0",
    # Keep IPv6 addresses over link down/up (fault injection), as IPv4 does.
    "net.ipv6.conf.all.keep_addr_on_down": "1",
    "net.ipv6.conf.default.keep_addr_on_down": "1",
    # Loose reverse-path filter: NAT and asymmetric scenarios must pass.
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
}
BR_STATE_FORWARDING = 3
FORWARDING_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
}


def check_host() -> None:
    """Raise :class:`NotSupported` unless this host can run labs."""
    if os.geteuid() != 0:
        raise NotSupported("the lab must run as root (network namespaces need CAP_SYS_ADMIN "
                           "and CAP_NET_ADMIN); try: sudo ./lab.sh ...")
    if not Path("/proc/self/ns/net").exists():
        raise NotSupported("this kernel has no network namespace support (/proc/self/ns/net)")


def in_ns_thread(netns_name: str, fn: Callable[[], None]) -> None:
    """Run ``fn`` in a short-lived thread that has entered ``netns_name``."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            nsexec.enter_netns(netns_name)
            fn()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    t = threading.Thread(target=work, name=f"ns:{netns_name}")
    t.start()
    t.join()
    if errors:
        raise errors[0]


def in_ns(netns_name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a short-lived thread inside ``netns_name`` and return its result.

    Sockets ``fn`` opens stay in that namespace for their whole life.
    """
    box: list[T] = []
    in_ns_thread(netns_name, lambda: box.append(fn()))
    return box[0]


def write_sysctls(netns_name: str, items: dict[str, str]) -> None:
    """Set ``items`` (dotted sysctl names) inside ``netns_name``."""

    def fn() -> None:
        for key, value in items.items():
            path = Path("/proc/sys") / key.replace(".", "/")
            try:
                path.write_text(str(value))
            except OSError as exc:
                raise LabError(f"namespace {netns_name}: cannot set sysctl {key}={value}: "
                               f"{exc.strerror}") from None

    in_ns_thread(netns_name, fn)


def _family(addr: str) -> int:
    return 10 if ipaddress.ip_interface(addr).version == 6 else 2


class Realizer:
    """Creates (and removes) the kernel objects of one run."""

    def __init__(self, topo: Topology, state: RunState) -> None:
        self.topo = topo
        self.state = state
        self.run = state.run
        self.ipr: dict[str, IPRoute] = {}

    def ns(self, node: str) -> str:
        return names.node_ns(self.run, node)

    # -- bring-up -------------------------------------------------------
    def build(self) -> None:
        """Create everything; on failure the caller tears down what exists."""
        topo = self.topo
        wanted = [self.ns(n) for n in topo.nodes]
        if topo.segments:
            wanted.append(names.bridge_ns(self.run))
        existing = set(netns.listnetns())
        clash = [n for n in wanted if n in existing]
        if clash:
            raise LabError(f"namespace {clash[0]} already exists (run name in use?)")
        self.state.nodes = {n: self.ns(n) for n in topo.nodes}
        for name in wanted:
            self.state.namespaces.append(name)
            self.state.save()
            nsexec.create_netns(name)
            self.ipr[name] = IPRoute(netns=name)
        for node in topo.nodes.values():
            ctl = dict(DEFAULT_SYSCTLS)
            if node.forwarding:
                ctl.update(FORWARDING_SYSCTLS)
            ctl.update(node.sysctls)
            write_sysctls(self.ns(node.name), ctl)
        if topo.segments:
            write_sysctls(names.bridge_ns(self.run), {"net.ipv6.conf.all.disable_ipv6": "1",
                                                     "net.ipv6.conf.default.disable_ipv6": "1"})
        for name in wanted:
            self.ipr[name].link("set", index=1, state="up")
        self.links()
        self.segments()
        self.addresses()
        self.routes()
        for node in topo.nodes.values():
            if node.nat:
                self.static_nat_addresses(node)
                nat.apply(self.ns(node.name), node, topo)
                # after the ruleset: loading it brings in nf_conntrack and its sysctls
                ct = {k: v for k, v in nat.conntrack_sysctls(node).items()
                      if k not in node.sysctls}
                if ct:
                    write_sysctls(self.ns(node.name), ct)
        self.wait_ready()

    def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until the interfaces that need it are operationally up.

        The kernel reports carrier changes through linkwatch, batched up to 1 s.
        Until then IPv6 on an interface is not ready (Neighbour Solicitations go
        unanswered, RFC 4861 §7.2) and a bridge port does not forward, so the
        first packet would take a 1 s retry. Point-to-point IPv4 needs no wait.
        """
        pending = {(self.ns(n), i.name) for n in self.topo.nodes
                   for i in self.topo.interfaces(n)
                   if any(":" in a for a in i.addrs) or i.peer.startswith("segment:")}
        if self.topo.segments:
            brns = names.bridge_ns(self.run)
            pending |= {(brns, names.bridge_port(i, j)) for i, seg in enumerate(self.topo.segments)
                        for j in range(len(seg.members))}
        deadline = time.monotonic() + timeout
        while pending:
            for ns in {ns for ns, _ in pending}:
                if ns.endswith(".br"):
                    links = self.ipr[ns].link("dump", family=socket.AF_BRIDGE)
                else:
                    links = self.ipr[ns].link("dump")
                for link in links:
                    if link.get("operstate") != "UP":
                        continue
                    info = link.get_attr("IFLA_PROTINFO")
                    if ns.endswith(".br") and (not info or info.get_attr(
                            "IFLA_BRPORT_STATE") != BR_STATE_FORWARDING):
                        continue
                    pending.discard((ns, link.get("ifname")))
            if not pending:
                return
            if time.monotonic() > deadline:
                ns, ifname = sorted(pending)[0]
                raise LabTimeout(f"interface {ifname} in {ns} to come up", timeout)
            time.sleep(0.01)

    def _link_index(self, ns: str, ifname: str) -> int:
        idx = self.ipr[ns].link_lookup(ifname=ifname)
        if not idx:
            raise LabError(f"namespace {ns}: interface {ifname} not found")
        return idx[0]

    def links(self) -> None:
        for link in self.topo.links:
            ns_a, ns_b = self.ns(link.a.node), self.ns(link.b.node)
            kw = {"mtu": link.mtu} if link.mtu else {}
            peer: dict[str, object] = {"ifname": link.b.ifname, "net_ns_fd": ns_b}
            peer.update(kw)
            try:
                self.ipr[ns_a].link("add", ifname=link.a.ifname, kind="veth", peer=peer, **kw)
            except NetlinkError as exc:
                raise LabError(f"link {link.a}--{link.b}: cannot create veth pair: "
                               f"{os.strerror(exc.code)}") from None
            # Up at once: carrier/IPv6 readiness (linkwatch) then overlaps the rest.
            self.ipr[ns_a].link("set", index=self._link_index(ns_a, link.a.ifname), state="up")
            self.ipr[ns_b].link("set", index=self._link_index(ns_b, link.b.ifname), state="up")

    def segments(self) -> None:
        if not self.topo.segments:
            return
        brns = names.bridge_ns(self.run)
        bipr = self.ipr[brns]
        for i, seg in enumerate(self.topo.segments):
            br = names.bridge_name(i)
            kw = {"mtu": seg.mtu} if seg.mtu else {}
            bipr.link("add", ifname=br, kind="bridge", br_mcast_snooping=0, **kw)
            br_idx = self._link_index(brns, br)
            for j, m in enumerate(seg.members):
                port = names.bridge_port(i, j)
                peer: dict[str, object] = {"ifname": port, "net_ns_fd": brns}
                peer.update(kw)
                ns = self.ns(m.iface.node)
                self.ipr[ns].link("add", ifname=m.iface.ifname, kind="veth", peer=peer, **kw)
                self.ipr[ns].link("set", index=self._link_index(ns, m.iface.ifname), state="up")
                bipr.link("set", index=self._link_index(brns, port), master=br_idx, state="up")
            bipr.link("set", index=br_idx, state="up")

    def addresses(self) -> None:
        for node in self.topo.nodes:
            ns = self.ns(node)
            ipr = self.ipr[ns]
            for iface in self.topo.interfaces(node):
                idx = self._link_index(ns, iface.name)
                for addr in iface.addrs:
                    ip = ipaddress.ip_interface(addr)
                    try:
                        ipr.addr("add", index=idx, address=str(ip.ip),
                                 prefixlen=ip.network.prefixlen, family=_family(addr))
                    except NetlinkError as exc:
                        raise LabError(f"node {node}: cannot add {addr} to {iface.name}: "
                                       f"{os.strerror(exc.code)}") from None
                ipr.link("set", index=idx, state="up")

    def routes(self) -> None:
        for node, routes in self.topo.routes.items():
            add_routes(self.ipr[self.ns(node)], node, routes)

    def static_nat_addresses(self, node: Node) -> None:
        """Own the external host addresses of static NAT rules on the outside interface.

        A static NAT box answers ARP/ND for its mapped addresses (as devices do);
        DNAT in prerouting then sends the packets on to the inside host.
        """
        ns = self.ns(node.name)
        for rule in node.nat:
            if rule.type != "static" or not rule.external:
                continue
            if "/" in rule.external:
                self._proxy_arp_prefix(ns, rule)
                continue
            ip = ipaddress.ip_address(rule.external)
            self.ipr[ns].addr("add", index=self._link_index(ns, rule.outside), address=str(ip),
                              prefixlen=ip.max_prefixlen, family=10 if ip.version == 6 else 2)

    def _proxy_arp_prefix(self, ns: str, rule: NatRule) -> None:
        """Answer ARP for a whole external prefix: proxy ARP + a route to it via inside."""
        net = ipaddress.ip_network(rule.external or "", strict=False)
        if net.version == 6:
            raise LabError(f"{ns}: static NAT of an IPv6 prefix ({net}) is not supported; "
                           "map single addresses")
        self.ipr[ns].route("add", dst=str(net), oif=self._link_index(ns, rule.inside))
        write_sysctls(ns, {f"net.ipv4.conf.{rule.outside}.proxy_arp": "1"})

    def close(self) -> None:
        for ipr in self.ipr.values():
            try:
                ipr.close()
            except Exception:  # teardown: a closed socket is fine
                pass
        self.ipr.clear()


def add_routes(ipr: IPRoute, node: str, routes: list[Route], *, exist_ok: bool = False) -> None:
    """Install ``routes`` of ``node`` through ``ipr`` (an IPRoute inside its namespace)."""
    for r in routes:
        if r.dst == "default":
            dst, fam = "0.0.0.0/0", 2
        elif r.dst == "default6":
            dst, fam = "::/0", 10
        else:
            net = ipaddress.ip_network(r.dst, strict=False)
            dst, fam = str(net), 10 if net.version == 6 else 2
        kw: dict[str, object] = {"dst": dst, "gateway": r.via, "family": fam}
        if r.dev:
            idx = ipr.link_lookup(ifname=r.dev)
            if not idx:
                raise LabError(f"node {node}: route {r.dst}: no interface {r.dev}")
            kw["oif"] = idx[0]
        try:
            ipr.route("add", **kw)
        except NetlinkError as exc:
            if exist_ok and exc.code == errno.EEXIST:
                continue
            raise LabError(f"node {node}: cannot add route {r.dst} via {r.via}: "
                           f"{os.strerror(exc.code)}") from None


# -- teardown (also used by `down` for crashed runs) ---------------------
def _ns_inode(name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(nsexec.netns_path(name))
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def pids_in_namespaces(ns_names: Iterable[str]) -> list[int]:
    """PIDs of processes living in any of the named namespaces."""
    inodes = {i for i in (_ns_inode(n) for n in ns_names) if i}
    if not inodes:
        return []
    me = os.getpid()
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in inodes:
            out.append(int(entry.name))
    return out


def pids_with_run(run: str | None) -> list[int]:
    """PIDs whose environment carries LAB_RUN=<run> (any lab run if ``run`` is None)."""
    return [pid for pid, r in lab_run_pids().items() if run is None or r == run]


def lab_run_pids() -> dict[int, str]:
    """Every process carrying LAB_RUN in its environment -> that run's name."""
    me = os.getpid()
    out: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            env = Path(f"/proc/{entry.name}/environ").read_bytes()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"LAB_RUN="):
                out[int(entry.name)] = var[8:].decode(errors="replace")
                break
    return out


def kill_pids(pids: Iterable[int], grace: float = 0.0) -> None:
    """SIGTERM (if ``grace``), then SIGKILL ``pids``; wait until they are gone."""
    pids = [p for p in set(pids) if p != os.getpid()]
    if grace > 0:
        for p in pids:
            _signal(p, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.02)
    for p in pids:
        _signal(p, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.01)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)  # our own child: reap it
        except ChildProcessError:
            pass
        return False
    return True


def remove_namespaces(ns_names: Iterable[str]) -> list[str]:
    """Kill every process inside, then delete the namespaces; return error lines."""
    ns_names = list(ns_names)
    kill_pids(pids_in_namespaces(ns_names))
    errors = []
    existing = set(netns.listnetns())
    for name in ns_names:
        if name not in existing:
            continue
        try:
            nsexec.remove_netns(name)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                errors.append(f"cannot remove namespace {name}: {exc.strerror}")
    return errors
