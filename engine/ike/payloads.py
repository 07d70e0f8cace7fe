"""ISAKMP message and payload codec (RFC 2408 §3, RFC 2407 §4.6, RFC 3947 §3.2/§5.2).

One class per payload; the field layout follows the RFC figure cited in each
docstring.  The encoder computes every length and next-payload field; the
decoder raises ``MalformedMessage`` (never anything else) on bad input.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

from .errors import MalformedMessage
from .registry import (
    ISAKMP_VERSION,
    Doi,
    ExchangeType,
    IdType,
    PayloadType,
    ProtocolId,
)

HEADER_LEN = 28
GENERIC_LEN = 4


def _need(data: bytes, n: int, what: str) -> None:
    if len(data) < n:
        raise MalformedMessage(f"{what}: {len(data)} bytes, need at least {n}")


# --------------------------------------------------------------------------- header


@dataclass
class Header:
    """RFC 2408 §3.1 ISAKMP header (28 bytes)."""

    icookie: bytes
    rcookie: bytes
    next_payload: int
    exchange: int
    flags: int
    message_id: int
    length: int = 0
    version: int = ISAKMP_VERSION

    def encode(self) -> bytes:
        return (
            self.icookie
            + self.rcookie
            + struct.pack(
                "!BBBBII",
                self.next_payload,
                self.version,
                self.exchange,
                self.flags,
                self.message_id,
                self.length,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Header:
        _need(data, HEADER_LEN, "ISAKMP header")
        np, ver, exch, flags, mid, length = struct.unpack_from("!BBBBII", data, 16)
        if ver >> 4 != 1:
            raise MalformedMessage(f"ISAKMP header: major version {ver >> 4} is not 1")
        if length != len(data):
            raise MalformedMessage(
                f"ISAKMP header: length field {length} but datagram has {len(data)} bytes"
            )
        return cls(data[:8], data[8:16], np, exch, flags, mid, length, ver)


# ---------------------------------------------------------------------- attributes


@dataclass
class Attribute:
    """RFC 2408 §3.3 data attribute: TV (AF=1, 2-byte value) or TLV (AF=0).

    ``value`` is an int for numeric attributes (TLV values up to 8 bytes are
    read as big-endian integers), bytes otherwise.  ``tlv`` forces the long
    form on encoding (IOS sends lifetimes as 4-byte TLVs).
    """

    type: int
    value: int | bytes
    tlv: bool = False

    def encode(self) -> bytes:
        v = self.value
        if isinstance(v, int) and not self.tlv and 0 <= v < 0x10000:
            return struct.pack("!HH", 0x8000 | self.type, v)
        if isinstance(v, int):
            if v < 0:
                raise ValueError(f"attribute {self.type}: negative value {v}")
            n = max(4, (v.bit_length() + 7) // 8)
            v = v.to_bytes(n, "big")
        return struct.pack("!HH", self.type & 0x7FFF, len(v)) + v

    @staticmethod
    def decode_all(data: bytes) -> list[Attribute]:
        out: list[Attribute] = []
        off = 0
        while off < len(data):
            _need(data[off:], 4, "data attribute")
            af_type, lv = struct.unpack_from("!HH", data, off)
            off += 4
            if af_type & 0x8000:
                out.append(Attribute(af_type & 0x7FFF, lv))
                continue
            if off + lv > len(data):
                raise MalformedMessage(
                    f"TLV attribute {af_type}: length {lv} overruns transform "
                    f"({len(data) - off} left)"
                )
            raw = data[off : off + lv]
            off += lv
            value: int | bytes = int.from_bytes(raw, "big") if 0 < lv <= 8 else raw
            out.append(Attribute(af_type, value, tlv=True))
        return out


def attrs_dict(attrs: Sequence[Attribute]) -> dict[int, int | bytes]:
    """Attributes as {type: value} (first occurrence wins)."""
    d: dict[int, int | bytes] = {}
    for a in attrs:
        d.setdefault(a.type, a.value)
    return d


# ------------------------------------------------------------------ SA / proposals


@dataclass
class Transform:
    """RFC 2408 §3.6 Transform payload (inside a Proposal)."""

    number: int
    transform_id: int
    attributes: list[Attribute] = field(default_factory=list)

    def encode(self, last: bool) -> bytes:
        body = struct.pack("!BBH", self.number, self.transform_id, 0)
        body += b"".join(a.encode() for a in self.attributes)
        nxt = PayloadType.NONE if last else PayloadType.TRANSFORM
        return struct.pack("!BBH", nxt, 0, len(body) + 4) + body

    @property
    def attrs(self) -> dict[int, int | bytes]:
        return attrs_dict(self.attributes)


@dataclass
class Proposal:
    """RFC 2408 §3.5 Proposal payload (inside an SA payload).

    Proposals sharing a ``number`` form one AND-ed bundle (AH+ESP, §4.2).
    """

    number: int
    protocol: int
    spi: bytes = b""
    transforms: list[Transform] = field(default_factory=list)

    def encode(self, last: bool) -> bytes:
        body = struct.pack("!BBBB", self.number, self.protocol, len(self.spi), len(self.transforms))
        body += self.spi
        for i, t in enumerate(self.transforms):
            body += t.encode(i == len(self.transforms) - 1)
        nxt = PayloadType.NONE if last else PayloadType.PROPOSAL
        return struct.pack("!BBH", nxt, 0, len(body) + 4) + body


def _decode_chain(data: bytes, expect: int, what: str) -> list[bytes]:
    """Split a proposal/transform chain into bodies; checks next-payload values."""
    out = []
    off = 0
    while True:
        _need(data[off:], 4, what)
        nxt, _res, length = struct.unpack_from("!BBH", data, off)
        if length < 4 or off + length > len(data):
            raise MalformedMessage(
                f"{what}: length {length} invalid ({len(data) - off} bytes left)"
            )
        out.append(data[off + 4 : off + length])
        off += length
        if nxt == PayloadType.NONE:
            return out
        if nxt != expect:
            raise MalformedMessage(f"{what}: next payload {nxt}, expected {expect} or 0")
        if off >= len(data):
            raise MalformedMessage(f"{what}: chain says more follow but data ends")


# ------------------------------------------------------------------------ payloads


class Payload:
    """Base class: subclasses implement ``encode_body``/``decode_body``."""

    TYPE: ClassVar[int] = 0
    raw: bytes = b""  # whole payload incl. generic header, set by the decoder

    @property
    def ptype(self) -> int:
        return self.TYPE

    def encode_body(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> Payload:  # pragma: no cover
        raise NotImplementedError


@dataclass
class SaPayload(Payload):
    """RFC 2408 §3.4 Security Association payload (DOI IPsec, RFC 2407 §4.6.1)."""

    TYPE: ClassVar[int] = PayloadType.SA
    proposals: list[Proposal] = field(default_factory=list)
    doi: int = Doi.IPSEC
    situation: int = 1  # SIT_IDENTITY_ONLY

    def encode_body(self) -> bytes:
        body = struct.pack("!II", self.doi, self.situation)
        for i, p in enumerate(self.proposals):
            body += p.encode(i == len(self.proposals) - 1)
        return body

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> SaPayload:
        _need(body, 8, "SA payload")
        doi, sit = struct.unpack_from("!II", body)
        if doi != Doi.IPSEC:
            raise MalformedMessage(f"SA payload: DOI {doi} is not IPsec (1)")
        if sit != 1:
            raise MalformedMessage(
                f"SA payload: situation {sit:#x} not supported (only SIT_IDENTITY_ONLY)"
            )
        proposals = []
        for pb in _decode_chain(body[8:], PayloadType.PROPOSAL, "proposal"):
            _need(pb, 4, "proposal")
            num, proto, spi_size, ntrans = struct.unpack_from("!BBBB", pb)
            _need(pb, 4 + spi_size, "proposal SPI")
            spi = pb[4 : 4 + spi_size]
            transforms = []
            if ntrans:
                chain = _decode_chain(pb[4 + spi_size :], PayloadType.TRANSFORM, "transform")
                if len(chain) != ntrans:
                    raise MalformedMessage(
                        f"proposal {num}: says {ntrans} transforms, found {len(chain)}"
                    )
                for tb in chain:
                    _need(tb, 4, "transform")
                    tnum, tid = tb[0], tb[1]
                    transforms.append(Transform(tnum, tid, Attribute.decode_all(tb[4:])))
            proposals.append(Proposal(num, proto, spi, transforms))
        if not proposals:
            raise MalformedMessage("SA payload: no proposals")
        return cls(proposals, doi, sit)


@dataclass
class _DataPayload(Payload):
    """Payloads whose body is opaque data."""

    data: bytes = b""

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> Payload:
        return cls(body)


@dataclass
class KePayload(_DataPayload):
    """RFC 2408 §3.7 Key Exchange payload (g^x, padded to the modulus length)."""

    TYPE: ClassVar[int] = PayloadType.KE


@dataclass
class HashPayload(_DataPayload):
    """RFC 2408 §3.11 Hash payload."""

    TYPE: ClassVar[int] = PayloadType.HASH


@dataclass
class NoncePayload(_DataPayload):
    """RFC 2408 §3.13 Nonce payload (8..256 bytes)."""

    TYPE: ClassVar[int] = PayloadType.NONCE

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> Payload:
        if not 8 <= len(body) <= 256:
            raise MalformedMessage(f"Nonce payload: {len(body)} bytes, must be 8..256")
        return cls(body)


@dataclass
class VendorIdPayload(_DataPayload):
    """RFC 2408 §3.16 Vendor ID payload."""

    TYPE: ClassVar[int] = PayloadType.VENDOR_ID


@dataclass
class NatDPayload(_DataPayload):
    """RFC 3947 §3.2 NAT-D payload: HASH(CKY-I | CKY-R | IP | Port).

    ``draft`` selects the pre-RFC payload type 130.
    """

    TYPE: ClassVar[int] = PayloadType.NAT_D
    draft: bool = False

    @property
    def ptype(self) -> int:
        return PayloadType.NAT_D_DRAFT if self.draft else PayloadType.NAT_D

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> Payload:
        return cls(body, ptype == PayloadType.NAT_D_DRAFT)


@dataclass
class IdPayload(Payload):
    """RFC 2408 §3.8 / RFC 2407 §4.6.2 Identification payload."""

    TYPE: ClassVar[int] = PayloadType.ID
    id_type: int = IdType.IPV4_ADDR
    data: bytes = b""
    protocol: int = 0
    port: int = 0

    def encode_body(self) -> bytes:
        return struct.pack("!BBH", self.id_type, self.protocol, self.port) + self.data

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> IdPayload:
        _need(body, 4, "ID payload")
        t, proto, port = struct.unpack_from("!BBH", body)
        p = cls(t, body[4:], proto, port)
        p.network()  # validate address forms early
        return p

    @property
    def body(self) -> bytes:
        """IDii_b / IDir_b: the body without the generic header (RFC 2409 §5)."""
        return self.encode_body()

    @classmethod
    def from_network(
        cls,
        net: ipaddress.IPv4Network | ipaddress.IPv6Network,
        protocol: int = 0,
        port: int = 0,
        force_subnet: bool = False,
    ) -> IdPayload:
        """ID for a selector: a host becomes *_ADDR, a prefix *_ADDR_SUBNET (RFC 2407 §4.6.2.1)."""
        v6 = net.version == 6
        if net.prefixlen == net.max_prefixlen and not force_subnet:
            return cls(
                IdType.IPV6_ADDR if v6 else IdType.IPV4_ADDR,
                net.network_address.packed,
                protocol,
                port,
            )
        return cls(
            IdType.IPV6_ADDR_SUBNET if v6 else IdType.IPV4_ADDR_SUBNET,
            net.network_address.packed + net.netmask.packed,
            protocol,
            port,
        )

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The address/subnet this ID names, None for non-address IDs.

        Raises:
            MalformedMessage: wrong data length, or a non-contiguous mask.
        """
        t, d = self.id_type, self.data
        sizes = {
            IdType.IPV4_ADDR: 4,
            IdType.IPV6_ADDR: 16,
            IdType.IPV4_ADDR_SUBNET: 8,
            IdType.IPV6_ADDR_SUBNET: 32,
            IdType.IPV4_ADDR_RANGE: 8,
            IdType.IPV6_ADDR_RANGE: 32,
        }
        if t not in sizes:
            return None
        if len(d) != sizes[t]:
            raise MalformedMessage(f"ID payload type {t}: {len(d)} data bytes, need {sizes[t]}")
        half = len(d) // 2
        try:
            if t in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
                return ipaddress.ip_network(ipaddress.ip_address(d))
            if t in (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET):
                addr = ipaddress.ip_address(d[:half])
                mask = int.from_bytes(d[half:], "big")
                inv = ((1 << (half * 8)) - 1) ^ mask
                if inv & (inv + 1):
                    raise MalformedMessage(f"ID payload: non-contiguous mask {d[half:].hex()}")
                return ipaddress.ip_network(f"{addr}/{half * 8 - inv.bit_length()}", strict=False)
            lo = ipaddress.ip_address(d[:half])
            hi = ipaddress.ip_address(d[half:])
            nets = list(ipaddress.summarize_address_range(lo, hi))
        except ValueError as e:
            raise MalformedMessage(f"ID payload type {t}: {e}") from None
        if len(nets) != 1:
            raise MalformedMessage(f"ID payload: range {lo}-{hi} is not one prefix")
        return nets[0]

    def describe(self) -> str:
        net = self.network()
        if net is not None and self.id_type in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
            return str(net.network_address)
        if net is not None:
            return str(net)
        return self.data.decode("utf-8", "replace")


@dataclass
class NotificationPayload(Payload):
    """RFC 2408 §3.14 Notification payload."""

    TYPE: ClassVar[int] = PayloadType.NOTIFICATION
    notify_type: int = 0
    protocol: int = ProtocolId.ISAKMP
    spi: bytes = b""
    data: bytes = b""
    doi: int = Doi.IPSEC

    def encode_body(self) -> bytes:
        return (
            struct.pack("!IBBH", self.doi, self.protocol, len(self.spi), self.notify_type)
            + self.spi
            + self.data
        )

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> NotificationPayload:
        _need(body, 8, "Notification payload")
        doi, proto, spi_size, ntype = struct.unpack_from("!IBBH", body)
        _need(body, 8 + spi_size, "Notification SPI")
        return cls(ntype, proto, body[8 : 8 + spi_size], body[8 + spi_size :], doi)


@dataclass
class DeletePayload(Payload):
    """RFC 2408 §3.15 Delete payload."""

    TYPE: ClassVar[int] = PayloadType.DELETE
    protocol: int = ProtocolId.IPSEC_ESP
    spis: list[bytes] = field(default_factory=list)
    spi_size: int = 4
    doi: int = Doi.IPSEC

    def encode_body(self) -> bytes:
        for s in self.spis:
            if len(s) != self.spi_size:
                raise ValueError(f"Delete payload: SPI {s.hex()} is not {self.spi_size} bytes")
        return struct.pack(
            "!IBBH", self.doi, self.protocol, self.spi_size, len(self.spis)
        ) + b"".join(self.spis)

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> DeletePayload:
        _need(body, 8, "Delete payload")
        doi, proto, size, n = struct.unpack_from("!IBBH", body)
        if len(body) != 8 + size * n:
            raise MalformedMessage(
                f"Delete payload: {n} SPIs of {size} bytes need {8 + size * n} bytes, "
                f"have {len(body)}"
            )
        spis = [body[8 + i * size : 8 + (i + 1) * size] for i in range(n)]
        return cls(proto, spis, size, doi)


@dataclass
class NatOaPayload(Payload):
    """RFC 3947 §5.2 NAT-OA payload (original address)."""

    TYPE: ClassVar[int] = PayloadType.NAT_OA
    address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(0)
    draft: bool = False

    @property
    def ptype(self) -> int:
        return PayloadType.NAT_OA_DRAFT if self.draft else PayloadType.NAT_OA

    def encode_body(self) -> bytes:
        t = IdType.IPV6_ADDR if self.address.version == 6 else IdType.IPV4_ADDR
        return struct.pack("!B3x", t) + self.address.packed

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> NatOaPayload:
        _need(body, 4, "NAT-OA payload")
        t = body[0]
        size = {IdType.IPV4_ADDR: 4, IdType.IPV6_ADDR: 16}.get(t)
        if size is None or len(body) != 4 + size:
            raise MalformedMessage(
                f"NAT-OA payload: ID type {t} with {len(body) - 4} address bytes"
            )
        return cls(ipaddress.ip_address(body[4:]), ptype == PayloadType.NAT_OA_DRAFT)


@dataclass
class UnknownPayload(_DataPayload):
    """A payload type this codec does not interpret (kept for hashing)."""

    type_: int = 0

    @property
    def ptype(self) -> int:
        return self.type_

    @classmethod
    def decode_body(cls, body: bytes, ptype: int) -> Payload:
        return cls(body, ptype)


# ------------------------------------------------------------------------- chains


def encode_payloads(payloads: Sequence[Payload]) -> bytes:
    """Encode a payload chain, filling next-payload and length fields."""
    out = []
    for i, p in enumerate(payloads):
        body = p.encode_body()
        nxt = payloads[i + 1].ptype if i + 1 < len(payloads) else PayloadType.NONE
        if len(body) + 4 > 0xFFFF:
            raise ValueError(f"payload {p.ptype}: {len(body)} bytes too long")
        out.append(struct.pack("!BBH", nxt, 0, len(body) + 4) + body)
    return b"".join(out)


def decode_payloads(first: int, data: bytes) -> list[Payload]:
    """Decode a payload chain; trailing bytes after the last payload (padding) are ignored.

    Raises:
        MalformedMessage: on any inconsistency, naming the payload.
    """
    out: list[Payload] = []
    off = 0
    nxt = first
    while nxt != PayloadType.NONE:
        if len(out) > 64:
            raise MalformedMessage("more than 64 payloads in one message")
        _need(data[off:], 4, f"payload {nxt} generic header")
        n2, _res, length = struct.unpack_from("!BBH", data, off)
        if length < 4 or off + length > len(data):
            raise MalformedMessage(
                f"payload {nxt}: length {length} invalid ({len(data) - off} bytes left)"
            )
        body = data[off + 4 : off + length]
        cls = PAYLOAD_CLASSES.get(nxt, UnknownPayload)
        try:
            p = cls.decode_body(body, nxt)
        except MalformedMessage:
            raise
        except (ValueError, struct.error, IndexError) as e:
            raise MalformedMessage(f"payload {nxt}: {e}") from None
        p.raw = data[off : off + length]
        out.append(p)
        off += length
        nxt = n2
    return out


def encode_message(header: Header, payloads: Sequence[Payload]) -> bytes:
    """Plain (unencrypted) message; header length and next payload computed."""
    body = encode_payloads(payloads)
    header.next_payload = payloads[0].ptype if payloads else PayloadType.NONE
    header.length = HEADER_LEN + len(body)
    return header.encode() + body


def find(payloads: Sequence[Payload], kind: type, ptype: int | None = None) -> list:
    """All payloads of a class (and optionally payload type)."""
    return [p for p in payloads if isinstance(p, kind) and (ptype is None or p.ptype == ptype)]


def first(payloads: Sequence[Payload], kind: type) -> Payload | None:
    for p in payloads:
        if isinstance(p, kind):
            return p
    return None


PAYLOAD_CLASSES: dict[int, type[Payload]] = {
    PayloadType.SA: SaPayload,
    PayloadType.KE: KePayload,
    PayloadType.ID: IdPayload,
    PayloadType.HASH: HashPayload,
    PayloadType.NONCE: NoncePayload,
    PayloadType.NOTIFICATION: NotificationPayload,
    PayloadType.DELETE: DeletePayload,
    PayloadType.VENDOR_ID: VendorIdPayload,
    PayloadType.NAT_D: NatDPayload,
    PayloadType.NAT_D_DRAFT: NatDPayload,
    PayloadType.NAT_OA: NatOaPayload,
    PayloadType.NAT_OA_DRAFT: NatOaPayload,
}

__all__ = [
    "Attribute",
    "DeletePayload",
    "ExchangeType",
    "HashPayload",
    "Header",
    "IdPayload",
    "KePayload",
    "NatDPayload",
    "NatOaPayload",
    "NoncePayload",
    "NotificationPayload",
    "Payload",
    "Proposal",
    "SaPayload",
    "Transform",
    "UnknownPayload",
    "VendorIdPayload",
    "decode_payloads",
    "encode_message",
    "encode_payloads",
]
