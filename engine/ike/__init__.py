"""Sans-I/O IKEv1 (RFC 2407/2408/2409, RFC 3706 DPD, RFC 3947 NAT-T)."""

from .engine import EngineTiming, IkeEngine
from .events import (
    ChildSaDown,
    ChildSaUp,
    Datagram,
    IkeSaDown,
    IkeSaUp,
    IpsecSaPair,
    Log,
    NegotiationFailed,
    PacketSelector,
    SaKeys,
    TrafficSelector,
)

__all__ = [
    "ChildSaDown",
    "ChildSaUp",
    "Datagram",
    "EngineTiming",
    "IkeEngine",
    "IkeSaDown",
    "IkeSaUp",
    "IpsecSaPair",
    "Log",
    "NegotiationFailed",
    "PacketSelector",
    "SaKeys",
    "TrafficSelector",
]
