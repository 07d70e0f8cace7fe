"""SA bundles: AH outside ESP, as IOS builds them for ``ah-md5-hmac esp-des``.

RFC 4301 §4.5: outbound, ESP (tunnel or transport) is applied first and AH
then covers the resulting packet including its outer header; inbound, AH is
verified and removed first, then ESP. One outer IP header in either mode.
"""

from __future__ import annotations

from typing import Iterable

from engine.esp.errors import EspError, SaConfigError
from engine.esp.sa import InboundSa, OutboundSa, each_or_error, largest_inner


class OutboundBundle:
    """Protect with ESP, then AH. Either may be None (then it is a single SA)."""

    def __init__(self, esp: OutboundSa | None, ah: OutboundSa | None) -> None:
        if esp is None and ah is None:
            raise SaConfigError("a bundle needs an ESP or an AH SA")
        if (esp is not None and not esp.is_esp) or (ah is not None and ah.is_esp):
            raise SaConfigError("OutboundBundle(esp=ESP SA, ah=AH SA)")
        self.esp, self.ah = esp, ah

    @property
    def sas(self) -> list[OutboundSa]:
        return [sa for sa in (self.esp, self.ah) if sa is not None]

    def protect(self, inner: bytes) -> bytes:
        if self.esp is None:
            return self.ah.protect(inner)  # type: ignore[union-attr]
        packet = self.esp.protect(inner)
        return packet if self.ah is None else self.ah.insert(packet)

    @property
    def tunnel(self) -> bool:
        return self.sas[0].tunnel

    def overhead(self, inner_len: int) -> int:
        """Bytes the bundle adds to an inner packet (AH adds its header to ESP's packet)."""
        if self.esp is None:
            return self.ah.overhead(inner_len)  # type: ignore[union-attr]
        extra = self.ah._ah_len if self.ah is not None else 0
        return self.esp.overhead(inner_len) + extra

    def max_inner_len(self, mtu: int) -> int:
        """Largest inner packet that fits ``mtu`` once protected (pre-fragmentation size)."""
        return largest_inner(mtu, self.overhead)

    def protect_many(self, packets: Iterable[bytes]) -> list[bytes | EspError]:
        return each_or_error(self.protect, packets)


class InboundBundle:
    """Verify and strip AH, then ESP."""

    def __init__(self, esp: InboundSa | None, ah: InboundSa | None) -> None:
        if esp is None and ah is None:
            raise SaConfigError("a bundle needs an ESP or an AH SA")
        if (esp is not None and not esp.is_esp) or (ah is not None and ah.is_esp):
            raise SaConfigError("InboundBundle(esp=ESP SA, ah=AH SA)")
        self.esp, self.ah = esp, ah

    @property
    def sas(self) -> list[InboundSa]:
        return [sa for sa in (self.esp, self.ah) if sa is not None]

    def unprotect(self, packet: bytes, src: str | None = None, dst: str | None = None) -> bytes:
        if self.ah is not None:
            packet = self.ah.unprotect(packet, src, dst)
            src = dst = None  # AH hands back a complete IP packet
        if self.esp is None:
            return packet
        return self.esp.unprotect(packet, src, dst)

    def unprotect_many(self, packets: Iterable[bytes]) -> list[bytes | EspError]:
        return each_or_error(self.unprotect, packets)
