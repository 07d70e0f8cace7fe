"""Typed errors of the ESP/AH data plane. The runner counts and drops on any of them."""

from __future__ import annotations


class EspError(Exception):
    """Base class: a packet could not be protected or unprotected.

    Attributes:
        spi: the SA's SPI (None when not known yet).
        seq: the packet's sequence number, when parsed.
    """

    def __init__(self, message: str, spi: int | None = None, seq: int | None = None) -> None:
        where = []
        if spi is not None:
            where.append(f"SPI 0x{spi:08X}")
        if seq is not None:
            where.append(f"seq {seq}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.spi = spi
        self.seq = seq


class MalformedPacket(EspError):
    """Truncated or inconsistent packet (lengths, padding, next header, IP header)."""


class IntegrityError(EspError):
    """ICV mismatch (RFC 4303 §3.4.4, RFC 4302 §3.4.4) or AEAD tag failure."""


class ReplayError(EspError):
    """Duplicate or too-old sequence number (RFC 4303 §3.4.3)."""


class SequenceExhausted(EspError):
    """The 32-bit outbound sequence counter would cycle (RFC 4303 §3.3.3): rekey."""


class SaConfigError(ValueError):
    """Inconsistent SaParams (key lengths, window size, mode/proto combination)."""
