"""The one configuration model every dialect (IOS, Allied Telesis AR570S) fills.

Pure dataclasses, no I/O.  Values omitted in a configuration take the IOS
defaults (Cisco IOS Security Configuration Guide; the seeds do not state
most of them, see ``docs`` notes in the parser):

* ISAKMP policy: ``encryption des``, ``hash sha``, ``authentication rsa-sig``,
  ``group 1``, ``lifetime 86400``.
* IPsec SA lifetimes: 3600 s / 4 608 000 KB (global).
* Anti-replay window: 64 packets.
* DPD/keepalive: off; when configured without ``periodic`` it is on-demand,
  retries default to 2 s (seed 000 L2087-2144).
* NAT-T: enabled (seed 000 L2925-2933); NAT keepalive: off.
* DF bit: ``copy`` (inferred, seed 000 L3386); fragmentation: before
  encryption (pre-fragmentation is the IOS default, seed 000 L762).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from engine.config.mgmt_model import MgmtConfig

IpNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IpAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: IP protocol keywords accepted in extended ACLs (IANA protocol numbers).
PROTOCOL_NUMBERS: dict[str, int] = {
    "icmp": 1,
    "igmp": 2,
    "ipinip": 4,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ahp": 51,
    "ipv6-icmp": 58,
    "eigrp": 88,
    "ospf": 89,
    "pim": 103,
}

#: TCP/UDP port keywords IOS accepts in ACLs (a common subset).
PORT_NAMES: dict[str, int] = {
    "bgp": 179,
    "bootpc": 68,
    "bootps": 67,
    "domain": 53,
    "echo": 7,
    "ftp": 21,
    "ftp-data": 20,
    "isakmp": 500,
    "non500-isakmp": 4500,
    "ntp": 123,
    "pop3": 110,
    "smtp": 25,
    "snmp": 161,
    "snmptrap": 162,
    "ssh": 22,
    "syslog": 514,
    "tacacs": 49,
    "telnet": 23,
    "tftp": 69,
    "www": 80,
}


@dataclass(frozen=True)
class ConfigLine:
    """One source line, kept for ``ignored`` and error reports."""

    file: str
    line: int  # 1-based
    text: str
    mode: str = "global"  # parser mode the line was read in


@dataclass(frozen=True)
class ConfigError:
    """A rejected line, with the device's own message.

    ``column`` is the 0-based column of the bad token in ``text`` (where the
    caret goes), or ``None`` for messages without a caret
    (``% Incomplete command.``).
    """

    file: str
    line: int
    column: int | None
    text: str
    message: str

    def device_text(self, prompt_width: int = 0) -> str:
        """The error as the device prints it after echoing ``text``.

        IOS prints the caret under the offending character, counting the
        prompt (``Router(config)#``) when typed interactively; in a file
        there is no prompt, so ``prompt_width`` defaults to 0.
        """
        if self.column is None:
            return self.message
        caret = " " * (prompt_width + self.column) + "^"
        return f"{self.text}\n{caret}\n{self.message}"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column is not None:
            where += f":{self.column + 1}"
        return f"{where}: {self.message} ({self.text.strip()})"


@dataclass
class IsakmpPolicy:
    """``crypto isakmp policy N`` (IKE phase 1 proposal, RFC 2409 §5)."""

    priority: int
    encryption: str = "des"  # IOS names: des, 3des, aes, aes 192, aes 256
    key_length: int | None = None  # AES key bits (128 if ``aes`` alone)
    hash: str = "sha"  # sha, md5, sha256, sha384, sha512
    authentication: str = "rsa-sig"  # pre-share, rsa-sig, rsa-encr
    group: int = 1
    lifetime: int = 86400  # seconds, 60-86400
    #: AR570S ISAKMP policies belong to one peer (``PEER=ip``, seed 002 L996-1002):
    #: offered to / accepted from that address only.  None = any peer (IOS, PEER=ANY).
    peer: str | None = None

    @property
    def cipher_name(self) -> str:
        """Algorithm name from ``engine/crypto/algorithms.py`` (``aes128``...)."""
        if self.encryption == "aes":
            return f"aes{self.key_length or 128}"
        return self.encryption

    @property
    def prf_name(self) -> str:
        """PRF/hash name from ``engine/crypto/algorithms.py``."""
        return {"sha": "sha1"}.get(self.hash, self.hash)


@dataclass
class IsakmpKey:
    """``crypto isakmp key KEY address A [MASK] [no-xauth]`` or ``hostname H``."""

    key: str
    address: IpNetwork | None = None  # a /32 (/128) unless a mask is given
    hostname: str | None = None
    encrypted: bool = False  # ``crypto isakmp key 6 ...`` (type-6 obfuscated)
    no_xauth: bool = False

    def matches(self, peer: IpAddress | str) -> bool:
        """True if this key applies to ``peer`` (address or hostname)."""
        if isinstance(peer, str):
            if self.hostname is not None and peer == self.hostname:
                return True
            try:
                peer = ipaddress.ip_address(peer)
            except ValueError:
                return False
        return self.address is not None and peer in self.address


@dataclass
class IsakmpPeer:
    """``crypto isakmp peer address X`` / ``hostname H`` (config-isakmp-peer)."""

    address: IpAddress | None = None
    hostname: str | None = None
    aggressive_mode: bool = False
    aggressive_client_endpoint: str | None = None  # ``set aggressive-mode client-endpoint``
    aggressive_password: str | None = None  # ``set aggressive-mode password``
    description: str | None = None


@dataclass
class TransformSet:
    """``crypto ipsec transform-set NAME t1 [t2 [t3]]`` (cfg-crypto-trans).

    ``transforms`` keeps the IOS words (``esp-aes 256`` is one entry);
    ``esp_encr``/``esp_integ``/``ah_integ`` are the algorithm names of
    ``engine/crypto/algorithms.py`` (None when the set has no such part).
    """

    name: str
    transforms: list[str] = field(default_factory=list)
    mode: Literal["tunnel", "transport"] = "tunnel"
    esp_encr: str | None = None
    esp_integ: str | None = None
    ah_integ: str | None = None
    compression: str | None = None  # ``comp-lzs``

    @property
    def has_esp(self) -> bool:
        return self.esp_encr is not None or self.esp_integ is not None

    @property
    def has_ah(self) -> bool:
        return self.ah_integ is not None


@dataclass
class PortMatch:
    """A TCP/UDP port condition (``eq``/``neq``/``lt``/``gt``/``range``)."""

    op: Literal["eq", "neq", "lt", "gt", "range"]
    low: int
    high: int | None = None  # only for ``range``

    def matches(self, port: int | None) -> bool:
        if port is None:
            return False
        if self.op == "eq":
            return port == self.low
        if self.op == "neq":
            return port != self.low
        if self.op == "lt":
            return port < self.low
        if self.op == "gt":
            return port > self.low
        assert self.high is not None
        return self.low <= port <= self.high


@dataclass
class Ace:
    """One access-control entry of an extended ACL."""

    action: Literal["permit", "deny"]
    protocol: int | None  # None = ``ip``/``ipv6`` (any protocol)
    src: IpNetwork
    dst: IpNetwork
    src_port: PortMatch | None = None
    dst_port: PortMatch | None = None
    sequence: int | None = None
    text: str = ""  # the source line, for show output
    log: bool = False
    # Non-contiguous wildcards cannot be a network; kept here when present.
    src_wildcard: tuple[int, int] | None = None  # (address int, wildcard int)
    dst_wildcard: tuple[int, int] | None = None

    def _addr_match(self, net: IpNetwork, wild: tuple[int, int] | None, addr: IpAddress) -> bool:
        if wild is not None:
            if addr.version != 4:
                return False
            base, mask = wild
            return (int(addr) & ~mask & 0xFFFFFFFF) == (base & ~mask & 0xFFFFFFFF)
        return addr.version == net.version and addr in net

    def matches(
        self,
        src: IpAddress | str,
        dst: IpAddress | str,
        protocol: int = 0,
        sport: int | None = None,
        dport: int | None = None,
    ) -> bool:
        """True if the packet 5-tuple matches this entry (action not applied)."""
        s = ipaddress.ip_address(src)
        d = ipaddress.ip_address(dst)
        if self.protocol is not None and protocol != self.protocol:
            return False
        if not self._addr_match(self.src, self.src_wildcard, s):
            return False
        if not self._addr_match(self.dst, self.dst_wildcard, d):
            return False
        if self.src_port is not None and not self.src_port.matches(sport):
            return False
        if self.dst_port is not None and not self.dst_port.matches(dport):
            return False
        return True


@dataclass
class AccessList:
    """A numbered (100-199, 2000-2699) or named extended ACL, IPv4 or IPv6."""

    name: str
    entries: list[Ace] = field(default_factory=list)
    ipv6: bool = False
    remarks: list[str] = field(default_factory=list)

    def first_match(self, src, dst, protocol=0, sport=None, dport=None) -> Ace | None:
        for ace in self.entries:
            if ace.matches(src, dst, protocol, sport, dport):
                return ace
        return None

    def matches(self, src, dst, protocol=0, sport=None, dport=None) -> bool:
        """True if the first matching entry permits (implicit deny at the end)."""
        ace = self.first_match(src, dst, protocol, sport, dport)
        return ace is not None and ace.action == "permit"

    @property
    def permits(self) -> list[Ace]:
        return [a for a in self.entries if a.action == "permit"]


@dataclass
class CryptoPeer:
    """One ``set peer`` of a crypto map entry, in configuration order."""

    address: IpAddress | None = None
    hostname: str | None = None
    default: bool = False  # ``set peer X default`` (preferred peer, seed 004)
    dynamic: bool = False  # ``set peer HOST dynamic``

    def __str__(self) -> str:
        return str(self.address) if self.address is not None else str(self.hostname)


@dataclass
class CryptoMapEntry:
    """``crypto map NAME SEQ ipsec-isakmp|ipsec-manual`` (config-crypto-map)."""

    seq: int
    kind: Literal["ipsec-isakmp", "ipsec-manual"] = "ipsec-isakmp"
    dynamic_map: str | None = None  # ``crypto map X 10 ipsec-isakmp dynamic DYN``
    peers: list[CryptoPeer] = field(default_factory=list)
    transform_sets: list[str] = field(default_factory=list)
    match_address: str | None = None
    pfs_group: int | None = None  # ``set pfs`` alone = group 1
    lifetime_seconds: int | None = None  # None = global value
    lifetime_kilobytes: int | None = None
    replay_window: int | None = None  # None = global value
    replay_disabled: bool = False
    idletime: int | None = None  # ``set security-association idletime N``
    idletime_default: bool = False  # ``... idletime N default``
    df_bit: str | None = None
    description: str | None = None
    reverse_route: bool = False
    isakmp_profile: str | None = None
    #: ``qos pre-classify`` (seed 000 L4124-4195): QoS classifies on the inner headers.
    qos_pre_classify: bool = False

    @property
    def default_peer(self) -> CryptoPeer | None:
        for p in self.peers:
            if p.default:
                return p
        return None


@dataclass
class CryptoMap:
    """All entries of one crypto map name, sorted by sequence number."""

    name: str
    entries: dict[int, CryptoMapEntry] = field(default_factory=dict)
    local_address: str | None = None  # ``crypto map X local-address IF``
    ipv6: bool = False  # ``crypto map ipv6 NAME SEQ ...``

    def ordered(self) -> list[CryptoMapEntry]:
        return [self.entries[k] for k in sorted(self.entries)]


@dataclass
class Interface:
    """``interface X`` (config-if)."""

    name: str
    ifname: str | None = None  # lab interface (``--interfaces`` map)
    addresses: list[ipaddress.IPv4Interface] = field(default_factory=list)
    addresses_v6: list[ipaddress.IPv6Interface] = field(default_factory=list)
    crypto_map: str | None = None
    crypto_map_v6: str | None = None  # ``ipv6 crypto map``
    df_bit: str | None = None  # clear|set|copy; None = global
    fragmentation: str | None = None  # before-encryption|after-encryption; None = global
    shutdown: bool = False
    description: str | None = None
    vrf: str | None = None  # ``ip vrf forwarding NAME``
    mtu: int | None = None
    ip_mtu: int | None = None
    tunnel: dict[str, str] = field(default_factory=dict)  # VTI: source/destination/mode/...
    #: ``ipv6 address P/64 eui-64`` prefixes (also in ``addresses_v6``); the interface
    #: ID is derived at run time (seed 000 L5237, L5563).
    eui64: list[ipaddress.IPv6Network] = field(default_factory=list)
    ipv6_mtu: int | None = None  # ``ipv6 mtu N`` (seed 000 L4403)
    qos_pre_classify: bool = False  # ``qos pre-classify`` on a tunnel (seed 000 L4197-4281)
    ipv6_enable: bool = False  # ``ipv6 enable`` (link-local only; seed 000 L5241-5250)
    #: Addresses the runner found on the lab interface at start-up (not configuration;
    #: VTI tunnel source resolution when the config has no address, seed 000 L4659-4661).
    runtime_addresses: list[Any] = field(default_factory=list)

    @property
    def primary(self) -> ipaddress.IPv4Interface | None:
        return self.addresses[0] if self.addresses else None


@dataclass
class Route:
    """``ip route PREFIX MASK (NEXTHOP | INTERFACE) [distance]`` or ``ipv6 route``."""

    prefix: IpNetwork
    next_hop: IpAddress | None = None
    interface: str | None = None
    distance: int = 1
    vrf: str | None = None  # ``ip route vrf NAME ...``


@dataclass
class Keepalive:
    """``crypto isakmp keepalive S [R] [periodic|on-demand]`` (DPD, RFC 3706)."""

    seconds: int
    retry: int = 2
    mode: Literal["periodic", "on-demand"] = "on-demand"
    #: Explicit R-U-THERE timeline (AR570S, seed 002 L1640-1691): send times of the
    #: R-U-THEREs relative to the first one, then the time the peer is declared dead
    #: (SAs deleted).  Empty = the IOS retry behaviour above.
    schedule: tuple[float, ...] = ()


@dataclass
class Globals:
    """Global crypto settings."""

    keepalive: Keepalive | None = None
    nat_keepalive: int | None = None  # seconds, 5-3600
    nat_transparency: bool = True  # ``no crypto ipsec nat-transparency udp-encapsulation``
    invalid_spi_recovery: bool = False
    df_bit: str = "copy"
    fragmentation: str = "before-encryption"
    replay_window: int = 64
    replay_disabled: bool = False
    sa_lifetime_seconds: int = 3600
    sa_lifetime_kilobytes: int = 4608000
    idle_time: int | None = None  # ``crypto ipsec security-association idle-time``
    isakmp_identity: str = "address"  # address|hostname|dn
    isakmp_aggressive_mode_disabled: bool = False
    isakmp_enabled: bool = True
    hostname: str = "Router"
    domain_name: str | None = None
    #: ``no crypto isakmp default policy`` / ``no crypto ipsec default transform-set``
    #: (seed 001 L2409-2478, L2555-2613).
    default_policies_enabled: bool = True
    default_transform_sets_enabled: bool = True
    #: ``ipv6 unicast-routing`` (seed 000 L5154-5212: required for IPv6 VTIs).
    ipv6_unicast_routing: bool = False
    #: ``platform ipsec llq qos-group N`` (seed 000 L4283-4342), 1-99.
    llq_qos_groups: list[int] = field(default_factory=list)


@dataclass
class Config:
    """A parsed device configuration (any dialect)."""

    dialect: str = "ios"
    isakmp_policies: list[IsakmpPolicy] = field(default_factory=list)
    isakmp_keys: list[IsakmpKey] = field(default_factory=list)
    isakmp_peers: list[IsakmpPeer] = field(default_factory=list)
    transform_sets: dict[str, TransformSet] = field(default_factory=dict)
    access_lists: dict[str, AccessList] = field(default_factory=dict)
    crypto_maps: dict[str, CryptoMap] = field(default_factory=dict)
    #: ``crypto dynamic-map NAME SEQ`` templates (responder side, no peer/ACL needed).
    dynamic_maps: dict[str, CryptoMap] = field(default_factory=dict)
    interfaces: dict[str, Interface] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    globals: Globals = field(default_factory=Globals)
    #: ``crypto ipsec profile NAME`` (VTI): the same settings as a crypto map entry.
    ipsec_profiles: dict[str, CryptoMapEntry] = field(default_factory=dict)
    #: AAA/RADIUS/ISAKMP profiles/SNMP (seed 001 ch. 4-5), see ``mgmt_model.py``
    mgmt: MgmtConfig = field(default_factory=MgmtConfig)
    ignored: list[ConfigLine] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    #: Lines accepted only after undoing a PDF-extraction artefact (joined or
    #: wrapped commands); ``message`` says what was done.  Not device errors.
    warnings: list[ConfigError] = field(default_factory=list)
    #: Allied Telesis AR objects (``engine.config.ar_model.ArState``) when
    #: ``dialect == "ar"``; the fields above are derived from them.
    ar: Any = None

    # -- lookups -----------------------------------------------------------------

    def sorted_policies(self) -> list[IsakmpPolicy]:
        """Policies in priority order (lowest number first), as IOS offers them."""
        return sorted(self.isakmp_policies, key=lambda p: p.priority)

    def policy(self, priority: int) -> IsakmpPolicy | None:
        for p in self.isakmp_policies:
            if p.priority == priority:
                return p
        return None

    def find_key(self, peer: IpAddress | str) -> IsakmpKey | None:
        """Pre-shared key for ``peer``: longest matching mask wins (IOS)."""
        best: IsakmpKey | None = None
        for k in self.isakmp_keys:
            if k.matches(peer):
                if best is None or (
                    k.address is not None
                    and best.address is not None
                    and k.address.prefixlen > best.address.prefixlen
                ):
                    best = k
        return best

    def find_peer(self, address: IpAddress | str) -> IsakmpPeer | None:
        a = ipaddress.ip_address(address) if not isinstance(address, str) else None
        for p in self.isakmp_peers:
            if a is not None and p.address == a:
                return p
            if isinstance(address, str) and (
                p.hostname == address or (p.address is not None and str(p.address) == address)
            ):
                return p
        return None

    def interface_by_ifname(self, ifname: str) -> Interface | None:
        for i in self.interfaces.values():
            if i.ifname == ifname:
                return i
        return None

    def apply_interface_map(self, mapping: dict[str, str]) -> list[str]:
        """Fill ``Interface.ifname`` from the ``--interfaces`` map.

        Returns the device names of the map that the config does not have
        (the caller warns about them); those get an empty Interface so the
        lab ifname is still known.
        """
        missing: list[str] = []
        by_lower = {name.lower(): i for name, i in self.interfaces.items()}
        for dev, lab in mapping.items():
            intf = self.interfaces.get(dev) or by_lower.get(dev.lower())
            if intf is None:
                missing.append(dev)
                intf = self.interfaces[dev] = Interface(name=dev)
            intf.ifname = lab
        return missing

    def effective_df_bit(self, interface: Interface) -> str:
        """Interface df-bit overrides the global one (seed 000 L3369-3372)."""
        return interface.df_bit or self.globals.df_bit

    def effective_fragmentation(self, interface: Interface) -> str:
        return interface.fragmentation or self.globals.fragmentation

    def entry_lifetime(self, entry: CryptoMapEntry) -> tuple[int, int]:
        """(seconds, kilobytes) for an entry, falling back to the globals."""
        g = self.globals
        return (
            entry.lifetime_seconds if entry.lifetime_seconds is not None else g.sa_lifetime_seconds,
            entry.lifetime_kilobytes
            if entry.lifetime_kilobytes is not None
            else g.sa_lifetime_kilobytes,
        )

    def entry_replay_window(self, entry: CryptoMapEntry) -> int:
        """Replay window size for an entry, 0 when disabled."""
        if entry.replay_disabled or (entry.replay_window is None and self.globals.replay_disabled):
            return 0
        if entry.replay_window is not None:
            return entry.replay_window
        return self.globals.replay_window

    def protected_selectors(self) -> list[ProtectedSelector]:
        """Traffic selectors of every crypto map entry applied on an interface.

        One item per permit ACE of the entry's ``match address`` ACL, in
        crypto map sequence order then ACL order.  Used by the runner's policy
        routing and by IKE Quick Mode IDs (RFC 2409 §5.5: IDci/IDcr).
        """
        out: list[ProtectedSelector] = []
        for intf in self.interfaces.values():
            for map_name in (intf.crypto_map, intf.crypto_map_v6):
                if map_name is None or map_name not in self.crypto_maps:
                    continue
                for entry in self.crypto_maps[map_name].ordered():
                    acl = self.access_lists.get(entry.match_address or "")
                    if acl is None:
                        continue
                    for ace in acl.permits:
                        out.append(
                            ProtectedSelector(intf, self.crypto_maps[map_name], entry, acl, ace)
                        )
        return out

    def lookup_entry(
        self, interface: Interface, src, dst, protocol=0, sport=None, dport=None
    ) -> tuple[CryptoMapEntry, Ace] | None:
        """Crypto map entry whose ACL permits this outbound packet, or None.

        Entries are tried in sequence order; a ``deny`` in an entry's ACL
        means "not this entry" (IOS: try the next entry, else send clear).
        """
        for map_name in (interface.crypto_map, interface.crypto_map_v6):
            cmap = self.crypto_maps.get(map_name or "")
            if cmap is None:
                continue
            for entry in cmap.ordered():
                acl = self.access_lists.get(entry.match_address or "")
                if acl is None:
                    continue
                ace = acl.first_match(src, dst, protocol, sport, dport)
                if ace is not None and ace.action == "permit":
                    return entry, ace
        return None


def _default_policies() -> list[IsakmpPolicy]:
    """IOS default IKE policies 65507-65514 (seed 001 Table 7, L2433-2443)."""
    out = []
    prio = 65507
    for enc, kl, group in (("aes", 128, 5), ("3des", None, 2)):
        for hsh in ("sha", "md5"):
            for auth in ("rsa-sig", "pre-share"):
                out.append(IsakmpPolicy(prio, enc, kl, hsh, auth, group, 86400))
                prio += 1
    return out


#: Default IKE policies, used when no ``crypto isakmp policy`` is configured.
DEFAULT_ISAKMP_POLICIES: tuple[IsakmpPolicy, ...] = tuple(_default_policies())

#: Default transform sets (seed 001 Table 8, L2570-2574), in the order IOS offers them
#: (``default_transform_set_1`` first, L2597-2601).  IOS shows them as transport mode
#: and falls back to tunnel mode when the traffic is not between the peers themselves.
DEFAULT_TRANSFORM_SETS: tuple[TransformSet, ...] = (
    TransformSet(
        "#!default_transform_set_1",
        ["esp-aes", "esp-sha-hmac"],
        "transport",
        esp_encr="aes128",
        esp_integ="hmac-sha1-96",
    ),
    TransformSet(
        "#!default_transform_set_0",
        ["esp-3des", "esp-sha-hmac"],
        "transport",
        esp_encr="3des",
        esp_integ="hmac-sha1-96",
    ),
)


def effective_policies(config: Config) -> list[IsakmpPolicy]:
    """Policies offered in IKE phase 1, in priority order (seed 001 L2411, L2476).

    User policies when any is configured (the seed's L2452 says the defaults are
    used too; taken as a translation error, see the spec notes); otherwise the
    default policies unless disabled.
    """
    if config.isakmp_policies:
        return config.sorted_policies()
    if config.globals.default_policies_enabled:
        return list(DEFAULT_ISAKMP_POLICIES)
    return []


def effective_transform_sets(config: Config, entry: CryptoMapEntry) -> list[TransformSet]:
    """Transform sets an entry proposes: its own, else the defaults (seed 001 L2563-2566)."""
    sets = [config.transform_sets[n] for n in entry.transform_sets if n in config.transform_sets]
    if sets or entry.transform_sets:
        return sets
    if not config.transform_sets and config.globals.default_transform_sets_enabled:
        return list(DEFAULT_TRANSFORM_SETS)
    return []


@dataclass(frozen=True, eq=False)
class ProtectedSelector:
    """A permit ACE of a crypto map entry applied on an interface."""

    interface: Interface
    crypto_map: CryptoMap
    entry: CryptoMapEntry
    acl: AccessList
    ace: Ace

    @property
    def local(self) -> IpNetwork:
        return self.ace.src

    @property
    def remote(self) -> IpNetwork:
        return self.ace.dst

    @property
    def protocol(self) -> int:
        return self.ace.protocol or 0
