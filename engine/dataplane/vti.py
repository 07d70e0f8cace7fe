"""Virtual tunnel interfaces on TUN devices (seed 000 ch. 10, L4644-4665, L5152-5314).

Every IPsec tunnel interface of the config (``interface Tunnel0`` with
``tunnel mode ipsec ipv6|ipv4`` and ``tunnel protection ipsec profile``)
becomes a real TUN device in the engine's namespace, named after the IOS
interface (``Tunnel0``), with the interface's addresses (``eui-64`` derived
from the tunnel source's MAC, RFC 4291 App. A) and the config's static routes
that name it (``ipv6 route 2001:DB8:2::/64 Tunnel0``).  The kernel routes into
it; everything read from it is protected with the tunnel's SA pair (proxy IDs
any/any, ``engine/config/vti.py``), and inner packets of SAs bound to the
tunnel are written back to it.  No crypto ACL, no policy routing.

IOS negotiates the SAs as soon as the tunnel is configured (L4657-4659: the
line protocol comes up after IKE and IPsec SAs exist); the manager acquires
at start-up and again on traffic while there is no SA.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import selectors
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from engine.config.vti import Vti, eui64_address, vti_by_map, vtis
from engine.dataplane import packet as pk
from engine.dataplane import tun
from engine.ike.events import Log, PacketSelector

log = logging.getLogger("engine.vti")

BATCH = 64
PENDING_MAX = 8  # packets kept per tunnel while IKE negotiates
PENDING_HOLD = 3.0  # real seconds
ACQUIRE_RETRY = 1.0  # real seconds between acquires of one tunnel
REINITIATE = 10.0  # real seconds between start-up style acquires of a tunnel without SA
FIRST_WAIT = REINITIATE  # the higher-addressed end waits as long before initiating
# (longer than IKE's first retransmission, 4 s: a lost MM1 of the other end is retried)
DEFAULT_MTU = 1400  # link MTU of a tunnel without ``mtu``/``ip mtu`` (IOS IPsec VTI ~1438)
IFA_F_NODAD = 0x02


def linux_name(ios_name: str) -> str:
    """Linux interface name for an IOS tunnel (``Tunnel0``; ``/``, spaces replaced)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in ios_name)
    return name[:15]


@dataclass
class TunnelPort:
    """One open VTI: its TUN, routes, pending packets and counters."""

    vti: Vti
    ifname: str
    fd: int
    index: int
    addresses: list[Any] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    pending: deque[tuple[float, bytes]] = field(default_factory=deque)
    last_acquire: float = -1e9
    line_up: bool = False  #: line protocol as last reported (``%LINEPROTO-5-UPDOWN``)
    signature: tuple[Any, ...] = ()  #: configuration it was built from (:func:`_signature`)
    counters: dict[str, int] = field(default_factory=lambda: {
        "in_packets": 0, "in_bytes": 0, "out_packets": 0, "out_bytes": 0,
        "out_no_sa": 0, "out_dropped": 0, "in_write_errors": 0})


def _signature(config: Any, v: Vti) -> tuple[Any, ...]:
    """What makes a tunnel interface need recreating when it changes."""
    intf = v.interface
    routes = sorted(str(r.prefix) for r in config.routes
                    if (r.interface or "").replace(" ", "").lower() == v.name.lower())
    return (str(v.destination), v.profile, v.inner_version, v.source,
            tuple(str(a) for a in (*intf.addresses, *intf.addresses_v6)),
            tuple(str(n) for n in intf.eui64), intf.ipv6_mtu, intf.ip_mtu, intf.mtu,
            tuple(routes), tuple(v.entry.transform_sets))


def _triggers(pkt: bytes) -> bool:
    """Does this packet start a negotiation?  Not the kernel's own link-local or
    multicast chatter on a fresh interface (MLD reports, router solicitations): the
    tunnel's start-up initiation covers that, and the noise would race it."""
    key = pk.flow_key(pkt)
    if key is None:
        return False
    try:
        src, dst = ipaddress.ip_address(key.src), ipaddress.ip_address(key.dst)
    except ValueError:
        return False
    return not (src.is_link_local or dst.is_multicast or dst.is_link_local
                or src.is_unspecified)


class VtiManager:
    """The VTIs of one runner (``engine.runner.Runner``).

    Uses the runner's selector, clock, SA database, IKE engine and
    ``_protect_send``; the runner calls :meth:`claim` for every new SA pair,
    :meth:`deliver` for inner packets of pairs bound to a tunnel, and
    :meth:`close` at exit.
    """

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.ports: dict[str, TunnelPort] = {}
        self.problems: list[str] = []

    # -- set-up --------------------------------------------------------------------

    def open(self) -> None:
        """Create every VTI of the config (errors are logged, never fatal)."""
        found = vtis(self.runner.config)
        if any(v.inner_version == 6 for v in found) and \
                not self.runner.config.globals.ipv6_unicast_routing:
            msg = "ipv6 unicast-routing is not configured (seed 000 L5154-5156)"
            self.problems.append(msg)
            log.warning("%s; IPv6 VTIs forward anyway in the lab", msg)
        for v in found:
            try:
                self._open_one(v)
            except (OSError, NetlinkError, ValueError, RuntimeError) as exc:
                msg = f"{v.name}: cannot create tunnel interface: {exc}"
                self.problems.append(msg)
                log.error("%s", msg)
        for port in self.ports.values():
            self._initiate(port)

    def _open_one(self, v: Vti) -> None:
        for p in v.problems:
            log.warning("%s: %s", v.name, p)
        name = linux_name(v.name)
        fd = tun.open_tun(name)
        intf = v.interface
        # IPv4 MTU as configured; the IPv6 MTU (sysctl below) must fit the link MTU
        mtu = intf.ip_mtu or intf.mtu or max(DEFAULT_MTU, intf.ipv6_mtu or 0)
        tun.set_sysctl(f"net/ipv6/conf/{name}/addr_gen_mode", "1")
        try:
            idx = tun.link_up(name, mtu=mtu)
        except BaseException:
            os.close(fd)
            raise
        port = TunnelPort(v, name, fd, idx, signature=_signature(self.runner.config, v))
        self.ports[v.name] = port
        tun.set_sysctl(f"net/ipv4/conf/{name}/rp_filter", "0")
        tun.set_sysctl(f"net/ipv6/conf/{name}/forwarding", "1")
        tun.set_sysctl(f"net/ipv6/conf/{name}/router_solicitations", "0")
        tun.set_sysctl(f"net/ipv6/conf/{name}/accept_ra", "0")
        if intf.ipv6_mtu:
            tun.set_sysctl(f"net/ipv6/conf/{name}/mtu", str(intf.ipv6_mtu))
        self.runner.sel.register(fd, selectors.EVENT_READ, lambda m, p=port: self._on_read(p))
        try:
            self._addresses(port, self._learn_source(v))
            self._routes(port)
        except BaseException:
            self._close_port(port)
            raise
        log.info("%s up as %s (index %d, mtu %d), peer %s, profile %s", v.name, name, idx,
                 mtu, v.destination, v.profile)

    def _learn_source(self, v: Vti) -> bytes | None:
        """Fill the tunnel source interface's run-time addresses; return its MAC."""
        src = v.source_interface
        if src is None or not src.ifname:
            return self._any_mac()
        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=src.ifname)
            if not idx:
                return self._any_mac()
            found = []
            for msg in ipr.get_addr(index=idx[0]):
                a = msg.get_attr("IFA_ADDRESS")
                if a:
                    found.append(ipaddress.ip_interface(f"{a}/{msg['prefixlen']}"))
            src.runtime_addresses = found
            link = ipr.get_links(idx[0])[0]
            mac = link.get_attr("IFLA_ADDRESS")
        return bytes.fromhex(mac.replace(":", "")) if mac else None

    @staticmethod
    def _any_mac() -> bytes | None:
        """IOS tunnels borrow an Ethernet MAC for EUI-64: the namespace's first one."""
        with IPRoute() as ipr:
            for link in ipr.get_links():
                mac = link.get_attr("IFLA_ADDRESS")
                if mac and len(mac) == 17 and mac != "00:00:00:00:00:00":
                    return bytes.fromhex(mac.replace(":", ""))
        return None

    def _addresses(self, port: TunnelPort, mac: bytes | None) -> None:
        intf = port.vti.interface
        want: list[Any] = list(intf.addresses)
        for a in intf.addresses_v6:
            if a.network in intf.eui64:
                if mac is None:
                    self.problems.append(f"{intf.name}: no MAC for eui-64 {a.network}")
                    continue
                want.append(eui64_address(a.network, mac))
            else:
                want.append(a)
        if intf.ipv6_enable or intf.addresses_v6:
            if mac is not None:
                want.append(eui64_address(ipaddress.ip_network("fe80::/64"), mac))
        with IPRoute() as ipr:
            for a in want:
                fam = socket.AF_INET6 if a.version == 6 else socket.AF_INET
                kw: dict[str, Any] = {"index": port.index, "address": str(a.ip),
                                      "prefixlen": a.network.prefixlen, "family": fam}
                if fam == socket.AF_INET6:
                    kw["flags"] = IFA_F_NODAD
                try:
                    ipr.addr("add", **kw)
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        raise
                port.addresses.append(a)

    def _routes(self, port: TunnelPort) -> None:
        """Static routes naming the tunnel (``ipv6 route P Tunnel0``, ``ip route P M Tunnel0``)."""
        name = port.vti.name.lower()
        with IPRoute() as ipr:
            for r in self.runner.config.routes:
                if (r.interface or "").replace(" ", "").lower() != name or r.vrf:
                    continue
                fam = socket.AF_INET6 if r.prefix.version == 6 else socket.AF_INET
                kw: dict[str, Any] = {"family": fam, "dst": str(r.prefix), "oif": port.index,
                                      "priority": r.distance}
                if r.next_hop is not None:
                    kw["gateway"] = str(r.next_hop)
                try:
                    ipr.route("replace", **kw)
                    port.routes.append(str(r.prefix))
                except NetlinkError as exc:
                    self.problems.append(f"route {r.prefix} via {port.ifname}: {exc}")
                    log.warning("route %s via %s: %s", r.prefix, port.ifname, exc)

    def reconcile(self) -> None:
        """Apply configuration changes (``lab config``): new tunnels are created, removed
        ones closed, changed ones (destination, profile, mode, addresses, routes)
        recreated; the SAs of closed tunnels are deleted (DELETE sent)."""
        want = {v.name: v for v in vtis(self.runner.config)}
        for name, port in list(self.ports.items()):
            v = want.get(name)
            if v is not None and _signature(self.runner.config, v) == port.signature:
                port.vti = v
                continue
            log.info("%s: configuration changed, recreating the tunnel interface", name)
            self._close_port(port, delete_sas=True)
        for name, v in want.items():
            if name in self.ports:
                continue
            try:
                self._open_one(v)
            except (OSError, NetlinkError, ValueError, RuntimeError) as exc:
                self.problems.append(f"{name}: cannot create tunnel interface: {exc}")
                log.error("%s: cannot create tunnel interface: %s", name, exc)
                continue
            self._initiate(self.ports[name])

    def _close_port(self, port: TunnelPort, delete_sas: bool = False) -> None:
        now = self.runner.clock.now()
        for e in list(self.runner.sadb.entries):
            if delete_sas and e.vti == port.vti.name:
                self.runner._ike_call("delete_child", e.spi_in, now)
                self.runner.sadb.remove(e)
        if delete_sas:
            self.runner._flush_ike(now)
        try:
            self.runner.sel.unregister(port.fd)
        except (KeyError, ValueError):
            pass
        try:
            os.close(port.fd)  # the kernel removes the TUN, its addresses and routes
        except OSError:
            pass
        self.ports.pop(port.vti.name, None)

    # -- data path -----------------------------------------------------------------

    def entry_for(self, port: TunnelPort) -> Any:
        """Newest live SA pair bound to this tunnel."""
        for e in reversed(self.runner.sadb.entries):
            if e.vti == port.vti.name and not e.dead:
                return e
        return None

    def _on_read(self, port: TunnelPort) -> None:
        read = os.read
        for _ in range(BATCH):
            try:
                pkt = read(port.fd, 65535)
            except BlockingIOError:
                break
            except OSError as exc:
                log.warning("%s read: %s", port.ifname, exc)
                break
            try:
                self.outbound(port, pkt)
            except Exception as exc:  # never die of a packet
                port.counters["out_dropped"] += 1
                self.runner.stats["vti_out_errors"] += 1
                log.warning("%s: outbound packet dropped: %s: %s", port.ifname,
                            type(exc).__name__, exc)
        self._housekeeping()

    def outbound(self, port: TunnelPort, pkt: bytes) -> None:
        """Protect one packet routed into the tunnel, or queue it and acquire."""
        if not pkt or pkt[0] >> 4 not in (4, 6):
            port.counters["out_dropped"] += 1
            return
        entry = self.entry_for(port)
        if entry is None:
            port.counters["out_no_sa"] += 1
            if len(port.pending) < PENDING_MAX:
                port.pending.append((time.monotonic(), pkt))
            else:
                port.counters["out_dropped"] += 1
            if _triggers(pkt):
                self._acquire(port, pkt)
            return
        port.counters["out_packets"] += 1
        port.counters["out_bytes"] += len(pkt)
        self.runner._protect_send(entry, pkt)

    def _acquire(self, port: TunnelPort, pkt: bytes | None) -> None:
        real = time.monotonic()
        if real - port.last_acquire < ACQUIRE_RETRY:
            return
        port.last_acquire = real
        key = pk.flow_key(pkt) if pkt else None
        if key is None:
            any_ = "::" if port.vti.inner_version == 6 else "0.0.0.0"
            key = pk.FlowKey(any_, any_, 0, 0, 0)
        sel = PacketSelector(key.src, key.dst, key.proto, key.sport or None,
                             key.dport or None, interface=port.vti.name)
        now = self.runner.clock.now()
        log.info("%s: no SA, acquire (%s -> %s)", port.vti.name, key.src, key.dst)
        self.runner.stats["vti_acquires"] += 1
        self.runner._ike_call("acquire", sel, now)
        self.runner._flush_ike(now)

    def _initiate(self, port: TunnelPort) -> None:
        """IOS brings a VTI's SAs up without traffic (L4657-4659).

        Both ends would initiate at once and end up with two IKE SAs and two
        pairs; the end with the higher tunnel address waits ``FIRST_WAIT`` s
        (the service hook) so that normally one negotiation runs.
        """
        local = self.runner.ike.policy.vti_local(port.vti) if self.runner.ike else None
        try:
            first = ipaddress.ip_address(local) < port.vti.destination
        except (TypeError, ValueError):
            first = True
        if first:
            self._acquire(port, None)
        else:
            port.last_acquire = time.monotonic() - REINITIATE + FIRST_WAIT

    def service(self, _now: float) -> None:
        """Optional periodic hook: re-initiate tunnels without SA (every ``REINITIATE`` s)."""
        real = time.monotonic()
        for port in self.ports.values():
            if port.line_up and self.entry_for(port) is None:
                self._line(port, False)
            if self.entry_for(port) is None and real - port.last_acquire >= REINITIATE:
                if self._negotiating(port):  # the peer's exchange is under way: wait
                    port.last_acquire = real - REINITIATE + FIRST_WAIT
                    continue
                self._acquire(port, None)
        self._housekeeping()

    def _line(self, port: TunnelPort, up: bool) -> None:
        """Report a line protocol change (L4657-4659: up once the SAs exist)."""
        if port.line_up == up:
            return
        port.line_up = up
        state = "up" if up else "down"
        self.runner.syslog.emit(Log("LINEPROTO", 5, "UPDOWN", f"Line protocol on Interface "
                                    f"{port.vti.name}, changed state to {state}"))

    def _negotiating(self, port: TunnelPort) -> bool:
        """Is a Phase 1 exchange with the tunnel's peer under way (not yet established)?"""
        dest = ipaddress.ip_address(port.vti.destination)
        for sa in self.runner._ike_call("isakmp_sas") or ():
            try:
                if ipaddress.ip_address(sa.peer[0]) == dest and not sa.deleted \
                        and sa.state != "established":
                    return True
            except (AttributeError, IndexError, TypeError, ValueError):
                continue
        return False

    def _housekeeping(self) -> None:
        real = time.monotonic()
        for port in self.ports.values():
            while port.pending and real - port.pending[0][0] > PENDING_HOLD:
                port.pending.popleft()
                port.counters["out_dropped"] += 1

    def claim(self, entry: Any) -> bool:
        """Bind a new SA pair to its tunnel when its map is a VTI's; send queued packets."""
        v = vti_by_map(self.runner.config, entry.pair.crypto_map)
        port = self.ports.get(v.name) if v is not None else None
        if port is None:
            return False
        entry.vti = v.name
        entry.interface = v.name
        self._line(port, True)
        held, port.pending = port.pending, deque()
        for _t, pkt in held:
            self.outbound(port, pkt)
        return True

    def deliver(self, entry: Any, inner: bytes) -> bool:
        """Write an inbound inner packet to the tunnel its SA is bound to."""
        port = self.ports.get(entry.vti or "")
        if port is None:
            return False
        try:
            os.write(port.fd, inner)
            port.counters["in_packets"] += 1
            port.counters["in_bytes"] += len(inner)
        except OSError as exc:
            port.counters["in_write_errors"] += 1
            if exc.errno not in (errno.EINVAL, errno.EAGAIN):
                log.warning("%s write: %s", port.ifname, exc)
        return True

    def line_protocol_up(self, name: str) -> bool:
        port = self.ports.get(name)
        return port is not None and self.entry_for(port) is not None

    def state(self) -> list[dict[str, Any]]:
        """``lab vti`` / show data: one item per tunnel."""
        out = []
        for name, p in self.ports.items():
            e = self.entry_for(p)
            out.append({"interface": name, "ifname": p.ifname, "index": p.index,
                        "destination": str(p.vti.destination), "profile": p.vti.profile,
                        "mode": f"ipsec ipv{p.vti.inner_version}",
                        "addresses": [str(a) for a in p.addresses], "routes": list(p.routes),
                        "line_protocol": "up" if e is not None else "down",
                        "spi_in": e.spi_in if e is not None else None,
                        "spi_out": e.spi_out if e is not None else None,
                        "counters": dict(p.counters)})
        return out

    def close(self) -> None:
        """Close the TUNs (the kernel removes them, their addresses and routes)."""
        for port in list(self.ports.values()):
            self._close_port(port)
        self.ports.clear()
