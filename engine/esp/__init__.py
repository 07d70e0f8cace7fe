"""User-space ESP (RFC 4303) and AH (RFC 4302) data plane, sans-I/O."""

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
