"""Virtual tunnel interfaces (VTI) derived from the config model.

IOS generates a crypto map for every ``interface TunnelN`` with ``tunnel
protection ipsec profile NAME`` (seed 000 L5412-5424: "the crypto map shown
is dynamically generated"): map ``TunnelN-head-0``, one entry whose peer is
the ``tunnel destination`` (L4659), whose transform sets and lifetimes come
from the IPsec profile and whose proxy identities are any/any of the tunnel's
inner family (``::/0`` for ``tunnel mode ipsec ipv6``, ``0.0.0.0/0`` for
``ipsec ipv4``; RFC 4301 §4.4.1 "ANY" selectors).  Everything routed into the
tunnel interface is protected; there is no crypto ACL.

Pure functions over :class:`engine.config.model.Config`; the IKE policy and
the data plane (``engine/dataplane/vti.py``) both read them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from engine.config.model import (
    AccessList,
    Ace,
    Config,
    CryptoMap,
    CryptoMapEntry,
    CryptoPeer,
    Interface,
)

#: Sequence number IOS shows for the generated entry (``Crypto Map "Tunnel0-head-0" 65536``).
VTI_SEQ = 65536
#: Tunnel modes that make an IPsec VTI (seed 000 L5275-5290), inner family per mode.
IPSEC_MODES = {"ipsec ipv6": 6, "ipsec ipv4": 4}


@dataclass
class Vti:
    """One IPsec-protected tunnel interface and its generated crypto map."""

    interface: Interface
    profile: str
    inner_version: int  #: 6 for ``tunnel mode ipsec ipv6``, 4 for ``ipsec ipv4``
    destination: ipaddress.IPv4Address | ipaddress.IPv6Address
    source: str  #: ``tunnel source`` as written (interface name or address)
    source_interface: Interface | None  #: the physical interface, when named or owning it
    cmap: CryptoMap
    entry: CryptoMapEntry
    acl: AccessList
    problems: list[str]

    @property
    def name(self) -> str:
        return self.interface.name

    @property
    def map_name(self) -> str:
        return self.cmap.name

    def local_address(self) -> str | None:
        """Our IKE/ESP address: a source-interface address of the destination's
        family and scope (seed 000 L4659-4661: never link-local for a global peer)."""
        try:
            return str(ipaddress.ip_address(self.source))
        except ValueError:
            pass
        intf = self.source_interface
        if intf is None:
            return None
        addrs = intf.addresses_v6 if self.destination.version == 6 else intf.addresses
        addrs = [*addrs, *(a for a in intf.runtime_addresses
                           if a.version == self.destination.version)]
        for a in addrs:
            if a.ip.is_link_local != self.destination.is_link_local:
                continue
            if intf.eui64 and a.network in intf.eui64:
                continue  # interface ID known only at run time
            return str(a.ip)
        return None


def any_ace(version: int) -> Ace:
    """``permit ipv6 any any`` / ``permit ip any any``."""
    net = ipaddress.ip_network("::/0" if version == 6 else "0.0.0.0/0")
    return Ace(action="permit", protocol=None, src=net, dst=net)


def find_interface(config: Config, name: str) -> Interface | None:
    """Interface by name, case-insensitively and ignoring spaces (``ethernet0``)."""
    want = name.replace(" ", "").lower()
    for intf in config.interfaces.values():
        if intf.name.replace(" ", "").lower() == want:
            return intf
    return None


def _source_interface(config: Config, source: str) -> Interface | None:
    try:
        addr = ipaddress.ip_address(source)
    except ValueError:
        return find_interface(config, source)
    for intf in config.interfaces.values():
        if any(a.ip == addr for a in (*intf.addresses, *intf.addresses_v6)):
            return intf
    return None


def vti_of(config: Config, intf: Interface) -> Vti | None:
    """The VTI of ``intf``, or None when it is not an IPsec-protected tunnel
    with a usable destination."""
    t = intf.tunnel
    prof_name = t.get("protection")
    if not prof_name:
        return None
    problems: list[str] = []
    mode = " ".join((t.get("mode") or "").lower().split())
    if mode not in IPSEC_MODES:
        # seed 000 L5275-5278: for IPsec only ``tunnel mode ipsec ipv6`` (and ipv4).
        problems.append(f"tunnel mode {mode or 'gre ip (default)'} is not an IPsec mode")
        return None
    try:
        dest = ipaddress.ip_address(t.get("destination") or "")
    except ValueError:
        return None
    if mode == "ipsec ipv6" and "shared" in t:
        problems.append("'shared' is not supported for IPv6 (seed 000 L5292-5294)")
    prof = config.ipsec_profiles.get(prof_name)
    name = f"{intf.name}-head-0"
    entry = CryptoMapEntry(seq=VTI_SEQ, peers=[CryptoPeer(address=dest)],
                           match_address=f"{name}-acl")
    if prof is not None:
        for attr in ("transform_sets", "pfs_group", "lifetime_seconds", "lifetime_kilobytes",
                     "replay_window", "replay_disabled", "idletime", "idletime_default",
                     "df_bit", "isakmp_profile"):
            setattr(entry, attr, getattr(prof, attr))
    else:
        problems.append(f"ipsec profile {prof_name} is not configured")
    inner = IPSEC_MODES[mode]
    cmap = CryptoMap(name=name, entries={VTI_SEQ: entry}, ipv6=dest.version == 6)
    acl = AccessList(name=entry.match_address or name, entries=[any_ace(inner)],
                     ipv6=inner == 6)
    source = t.get("source") or ""
    return Vti(intf, prof_name, inner, dest, source, _source_interface(config, source),
               cmap, entry, acl, problems)


def vtis(config: Config) -> list[Vti]:
    """Every IPsec VTI of ``config`` in configuration order."""
    out = []
    for intf in config.interfaces.values():
        v = vti_of(config, intf)
        if v is not None:
            out.append(v)
    return out


def vti_by_name(config: Config, name: str | None) -> Vti | None:
    """The VTI of interface ``name`` (case-insensitive), if it is one."""
    if not name:
        return None
    intf = find_interface(config, name)
    return vti_of(config, intf) if intf is not None else None


def vti_by_map(config: Config, map_name: str | None) -> Vti | None:
    """The VTI whose generated crypto map is ``map_name`` (``Tunnel0-head-0``)."""
    if not map_name or not map_name.endswith("-head-0"):
        return None
    return vti_by_name(config, map_name[: -len("-head-0")])


def eui64_address(prefix: ipaddress.IPv6Network, mac: bytes) -> ipaddress.IPv6Interface:
    """RFC 4291 App. A modified EUI-64: flip the U/L bit, insert ``FF:FE``."""
    if len(mac) != 6:
        raise ValueError(f"EUI-64 needs a 6-byte MAC, got {mac.hex(':')}")
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    base = int(prefix.network_address) & ~((1 << 64) - 1)
    return ipaddress.IPv6Interface((base | int.from_bytes(iid, "big"), prefix.prefixlen))
