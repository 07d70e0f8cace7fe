"""User-space ESP (RFC 4303) and AH (RFC 4302) data plane, sans-I/O.

Usage (no sockets, no clock here)::

    params = SaParams(spi=0x1234, encr="aes128", encr_key=k1, integ="hmac-sha1-96",
                      integ_key=k2, local="10.1.1.1", remote="10.2.2.2",
                      udp_encap=None, replay_window=64, df="copy")
    out, inb = OutboundSa(params), InboundSa(params_of_the_peer_direction)
    wire = out.protect(inner_ip_packet)          # complete outer IPv4/IPv6 packet
    inner = inb.unprotect(wire)                  # or unprotect(esp_bytes, src, dst)
    out.protect_many(packets) / inb.unprotect_many(packets)   # EspError in place of drops

AH+ESP (IOS ``ah-sha-hmac esp-des esp-sha-hmac``): ``OutboundBundle(esp_sa, ah_sa)`` /
``InboundBundle(esp_sa, ah_sa)``. Errors: ``ReplayError``, ``IntegrityError``,
``MalformedPacket`` (all ``EspError``); ``SequenceExhausted`` on the 2^32nd packet.
Counters: ``sa.counters`` (IOS ``show crypto ipsec sa`` names). Key export:
``sa.export("in"|"out")`` and ``SaParams.from_export``. Fragmentation, DF and ICMP
"fragmentation needed": ``engine.esp.fragment``.
"""

from engine.esp.bundle import InboundBundle, OutboundBundle
from engine.esp.errors import (
    EspError,
    IntegrityError,
    MalformedPacket,
    ReplayError,
    SaConfigError,
    SequenceExhausted,
)
from engine.esp.params import SaCounters, SaParams
from engine.esp.replay import ReplayWindow
from engine.esp.sa import InboundSa, OutboundSa

__all__ = [
    "EspError",
    "InboundBundle",
    "InboundSa",
    "IntegrityError",
    "MalformedPacket",
    "OutboundBundle",
    "OutboundSa",
    "ReplayError",
    "ReplayWindow",
    "SaConfigError",
    "SaCounters",
    "SaParams",
    "SequenceExhausted",
]
