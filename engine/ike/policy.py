"""Crypto map and key lookups for IKE (the IOS semantics of RFC 2409 §5.5 proxy IDs).

Reads the shared config model (``engine/config/model.py``): which crypto map
entry protects a packet, which entry accepts a peer's proxy identities, the
Quick Mode offers of an entry (transform sets in order, IOS defaults when
none), and the pre-shared key of a peer.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.config.model import effective_transform_sets
from engine.config.vti import Vti, vti_by_name, vtis

from .events import PacketSelector, TrafficSelector
from .quickmode import Offer, QmPolicy
from .sa import IsakmpSa


def is_default_set(name: str) -> bool:
    """IOS default transform sets are named ``#$!default_transform_set_N``."""
    return name.startswith("#")


class CryptoPolicy:
    """Lookups over one ``Config``."""

    def __init__(self, config: Any, fallback_address: str,
                 local_addresses: list[str] | None = None) -> None:
        self.config = config
        self.fallback_address = fallback_address
        self.local_addresses = list(local_addresses or [])

    def lookup_entry(self, sel: PacketSelector):
        cfg = self.config
        vti = vti_by_name(cfg, sel.interface)
        if vti is not None:  # routed into a tunnel interface: any/any, no ACL
            return vti.interface, vti.cmap, vti.entry, vti.acl.entries[0]
        for intf in cfg.interfaces.values():
            if sel.interface is not None and intf.name != sel.interface:
                continue
            for map_name in (intf.crypto_map, intf.crypto_map_v6):
                cmap = cfg.crypto_maps.get(map_name or "")
                if cmap is None:
                    continue
                for entry in cmap.ordered():
                    acl = cfg.access_lists.get(entry.match_address or "")
                    if acl is None:
                        continue
                    ace = acl.first_match(sel.src, sel.dst, sel.protocol, sel.sport, sel.dport)
                    if ace is not None and ace.action == "permit":
                        return intf, cmap, entry, ace
        return None

    def local_for(self, intf, cmap, peer: str) -> str:
        """Our IKE address towards ``peer``: the map's local-address interface or the
        interface the map is applied to, same address family as the peer."""
        v6 = ipaddress.ip_address(peer).version == 6
        vti = vti_by_name(self.config, intf.name) if intf.tunnel else None
        if vti is not None:
            return self.vti_local(vti)
        for name in (cmap.local_address, intf.name):
            li = self.config.interfaces.get(name or "")
            if li is None:
                continue
            addrs = li.addresses_v6 if v6 else li.addresses
            if addrs:
                return str(addrs[0].ip)
        return self.fallback_address

    def vti_local(self, vti: Vti) -> str:
        """Tunnel source address (seed 000 L4659-4661: the source interface's address
        of the destination's family and scope), else a local address of that family."""
        addr = vti.local_address()
        if addr is not None:
            return addr
        dest = vti.destination
        tunnels = {str(a.ip) for i in self.config.interfaces.values() if i.tunnel
                   for a in (*i.addresses, *i.addresses_v6)}
        best, best_len = self.fallback_address, -1
        for a in self.local_addresses:  # longest common prefix with the destination
            ip = ipaddress.ip_address(a)
            if ip.version != dest.version or ip.is_link_local != dest.is_link_local \
                    or str(ip) in tunnels:
                continue
            common = ip.max_prefixlen - (int(ip) ^ int(dest)).bit_length()
            if common > best_len:
                best, best_len = a, common
        return best

    def vti_policy(self, sa: IsakmpSa, remote: TrafficSelector,
                   local: TrafficSelector) -> QmPolicy | None:
        """Responder: a VTI whose ``tunnel destination`` is the peer accepts any
        proxy identities of its inner family (IOS proposes any/any)."""
        peer_ip = ipaddress.ip_address(sa.peer[0])
        for vti in vtis(self.config):
            if vti.destination != peer_ip:
                continue
            if local.network.version != vti.inner_version or \
                    remote.network.version != vti.inner_version:
                continue
            return self.make_policy(vti.cmap, vti.entry, local, remote, sa.local[0], sa.peer[0])
        return None

    def local_towards(self, peer: str) -> str:
        """A local address for an IKE SA not tied to a crypto map entry (invalid-SPI
        recovery): an interface with a crypto map first, same address family."""
        v6 = ipaddress.ip_address(peer).version == 6
        intfs = sorted(
            self.config.interfaces.values(), key=lambda i: not (i.crypto_map or i.crypto_map_v6)
        )
        for intf in intfs:
            addrs = intf.addresses_v6 if v6 else intf.addresses
            if addrs:
                return str(addrs[0].ip)
        return self.fallback_address

    def offers(self, entry, local_ts, remote_ts, local: str, peer: str) -> list[Offer]:
        """The entry's transform sets in order (seed 001 L2563-2566: the defaults when
        none is configured).  Default sets are transport mode, used as tunnel mode
        unless the traffic is between the peers themselves (seed 001 Table 8)."""
        host_to_host = local_ts.network == ipaddress.ip_network(
            local
        ) and remote_ts.network == ipaddress.ip_network(peer)
        out = []
        for ts in effective_transform_sets(self.config, entry):
            mode = ts.mode
            if is_default_set(ts.name) and not host_to_host:
                mode = "tunnel"
            out.append(Offer(ts.name, mode, ts.esp_encr, ts.esp_integ, ts.ah_integ))
        return out

    def make_policy(self, cmap, entry, local_ts, remote_ts, local: str, peer: str) -> QmPolicy:
        secs, kbs = self.config.entry_lifetime(entry)
        return QmPolicy(
            self.offers(entry, local_ts, remote_ts, local, peer),
            entry.pfs_group,
            secs,
            kbs,
            local_ts,
            remote_ts,
            cmap.name,
            entry.seq,
        )

    @staticmethod
    def ts(net, ace, port_match) -> TrafficSelector:
        port = port_match.low if port_match is not None and port_match.op == "eq" else 0
        return TrafficSelector(net, ace.protocol or 0, port)

    def entry_policy(self, cmap, entry, ace, local: str, peer: str) -> QmPolicy:
        local_ts = self.ts(ace.src, ace, ace.src_port)
        remote_ts = self.ts(ace.dst, ace, ace.dst_port)
        return self.make_policy(cmap, entry, local_ts, remote_ts, local, peer)

    def responder_policy(
        self, sa: IsakmpSa, remote: TrafficSelector, local: TrafficSelector
    ) -> QmPolicy | None:
        """IOS: the peer's proxy IDs must be covered by a permit ACE (mirrored) of a
        crypto map entry whose ``set peer`` names the peer (or a dynamic entry)."""
        cfg = self.config
        peer_ip = ipaddress.ip_address(sa.peer[0])
        for intf in cfg.interfaces.values():
            addrs = [str(a.ip) for a in [*intf.addresses, *intf.addresses_v6]]
            if addrs and sa.local[0] not in addrs:
                continue
            for map_name in (intf.crypto_map, intf.crypto_map_v6):
                cmap = cfg.crypto_maps.get(map_name or "")
                if cmap is None:
                    continue
                for entry in cmap.ordered():
                    if entry.dynamic_map:
                        dyn = self.dynamic_map(entry.dynamic_map)
                        for e in dyn.ordered() if dyn is not None else []:
                            # Dynamic template: any peer; no ACL = accept the peer's IDs.
                            pol = self.match_acl(sa, dyn, e, remote, local, dynamic=True)
                            if pol is not None:
                                pol.initiate = False
                                return pol
                        continue
                    if not any(p.address == peer_ip for p in entry.peers):
                        continue
                    pol = self.match_acl(sa, cmap, entry, remote, local)
                    if pol is not None:
                        return pol
        return self.vti_policy(sa, remote, local)

    def dynamic_map(self, name: str):
        maps = getattr(self.config, "dynamic_maps", {}) or {}
        return maps.get(name) or self.config.crypto_maps.get(name)

    def match_acl(
        self, sa: IsakmpSa, cmap, entry, remote, local, dynamic: bool = False
    ) -> QmPolicy | None:
        acl = self.config.access_lists.get(entry.match_address or "")
        if acl is None:
            if dynamic and not entry.match_address:
                return self.make_policy(cmap, entry, local, remote, sa.local[0], sa.peer[0])
            return None
        for ace in acl.permits:
            if (
                local.network.version == ace.src.version
                and remote.network.version == ace.dst.version
                and local.network.subnet_of(ace.src)
                and remote.network.subnet_of(ace.dst)
                and (ace.protocol is None or ace.protocol == local.protocol)
            ):
                return self.make_policy(cmap, entry, local, remote, sa.local[0], sa.peer[0])
        return None

    def psk_for(self, peer: str) -> bytes | None:
        cp = self.config.find_peer(peer)
        if cp is not None and cp.aggressive_password:
            return cp.aggressive_password.encode()
        k = self.config.find_key(peer)
        return k.key.encode() if k is not None else None
