"""Events the IKE core hands to its runner (aioquic ``events.py`` style).

The runner turns them into SAs for the data plane, show output, counters
and IOS-style syslog lines.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal, Union

Address = tuple[str, int]  # (ip, port)
IpNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class Datagram:
    """One UDP datagram to send.  ``dst[1] == 4500`` means: prefix the
    4-byte non-ESP marker (RFC 3948 §2.2) before sending."""

    data: bytes
    src: Address
    dst: Address


@dataclass(frozen=True)
class PacketSelector:
    """The packet that hit a crypto map entry with no SA (argument of ``acquire``)."""

    src: str
    dst: str
    protocol: int = 0
    sport: int | None = None
    dport: int | None = None
    interface: str | None = None  #: IOS interface name of the egress interface (None: any)
    #: Rekey request: inbound SPI of the pair to replace (kilobyte soft limit reached, ...).
    #: Without it, acquire does nothing while a live pair already covers the flow.
    rekey_spi: int | None = None


@dataclass(frozen=True)
class TrafficSelector:
    """One side of an IPsec SA's proxy identity (RFC 2409 §5.5 IDci/IDcr)."""

    network: IpNetwork
    protocol: int = 0
    port: int = 0

    def __str__(self) -> str:
        return f"{self.network}/{self.protocol}/{self.port}"


@dataclass(frozen=True)
class SaKeys:
    """One unidirectional SA: what ESP/AH needs to protect or unprotect."""

    spi: int
    proto: Literal["esp", "ah"]
    encr: str | None  #: cipher name (engine/crypto/algorithms.py), None for AH
    encr_key: bytes
    integ: str | None  #: integrity name, None for combined-mode/none
    integ_key: bytes


@dataclass(frozen=True)
class IpsecSaPair:
    """Both directions of one negotiated IPsec SA (bundle).

    ``inbound``/``outbound`` hold one SaKeys per protocol, AH first then ESP
    for AH+ESP bundles (RFC 2401 §4.5: ESP is applied first, then AH outside).
    """

    peer: str
    local: str
    mode: Literal["tunnel", "transport"]
    inbound: tuple[SaKeys, ...]
    outbound: tuple[SaKeys, ...]
    local_ts: TrafficSelector
    remote_ts: TrafficSelector
    lifetime_seconds: int
    lifetime_kilobytes: int
    created: float
    udp_encap: tuple[int, int] | None = None  #: (local port, peer port) when NAT-T is used
    pfs_group: int | None = None
    transform_set: str | None = None
    crypto_map: str | None = None
    crypto_map_seq: int | None = None
    initiator: bool = False
    ike_cookies: tuple[bytes, bytes] = (b"", b"")
    conn_id: int = 0

    def keys(self, proto: str, direction: str) -> SaKeys | None:
        for k in self.inbound if direction == "in" else self.outbound:
            if k.proto == proto:
                return k
        return None

    @property
    def inbound_spis(self) -> tuple[int, ...]:
        return tuple(k.spi for k in self.inbound)

    @property
    def outbound_spis(self) -> tuple[int, ...]:
        return tuple(k.spi for k in self.outbound)


@dataclass(frozen=True)
class IkeSaUp:
    """A Phase 1 (ISAKMP) SA was established."""

    peer: Address
    local: Address
    icookie: bytes
    rcookie: bytes
    mode: Literal["main", "aggressive"]
    initiator: bool
    encryption: str  #: cipher name
    hash: str  #: prf name
    auth: str  #: "psk"
    group: int
    lifetime: int  #: seconds
    nat_t: bool  #: NAT detected (IKE moved to 4500, ESP is UDP-encapsulated)
    conn_id: int
    peer_id: str = ""
    created: float = 0.0


@dataclass(frozen=True)
class IkeSaDown:
    """A Phase 1 SA was deleted (expired, cleared, peer DELETE, DPD)."""

    peer: Address
    local: Address
    icookie: bytes
    rcookie: bytes
    reason: str
    conn_id: int = 0


@dataclass(frozen=True)
class ChildSaUp:
    """An IPsec SA pair was negotiated (install it in the data plane)."""

    pair: IpsecSaPair
    rekey_of: tuple[int, ...] = ()  #: inbound SPIs of the pair this one replaces


@dataclass(frozen=True)
class ChildSaDown:
    """An IPsec SA pair is gone (remove it from the data plane)."""

    peer: str
    inbound_spis: tuple[int, ...]
    outbound_spis: tuple[int, ...]
    reason: str
    proto: str = "esp"


@dataclass(frozen=True)
class NegotiationFailed:
    """A Phase 1 or Quick Mode negotiation failed or timed out."""

    reason: str
    peer: str
    phase: int = 1


@dataclass(frozen=True)
class Log:
    """An IOS-style syslog message: ``%{facility}-{severity}-{mnemonic}: {text}``."""

    facility: str
    severity: int
    mnemonic: str
    text: str

    def __str__(self) -> str:
        return f"%{self.facility}-{self.severity}-{self.mnemonic}: {self.text}"


@dataclass(frozen=True)
class Debug:
    """An IOS ``debug crypto isakmp`` line (only when ``IkeEngine.debug`` is set), e.g.
    ``ISAKMP:(1001):IKE_DPD is enabled, initializing timers``."""

    text: str
    category: str = "isakmp"

    def __str__(self) -> str:
        return self.text


Event = Union[IkeSaUp, IkeSaDown, ChildSaUp, ChildSaDown, NegotiationFailed, Log, Debug]

__all__ = [
    "Address",
    "ChildSaDown",
    "ChildSaUp",
    "Datagram",
    "Debug",
    "Event",
    "IkeSaDown",
    "IkeSaUp",
    "IpsecSaPair",
    "Log",
    "NegotiationFailed",
    "PacketSelector",
    "SaKeys",
    "TrafficSelector",
    "field",
]
