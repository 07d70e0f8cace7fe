"""IPv4/IPv6 header helpers for the data plane (build, parse, checksum). Pure functions."""

from __future__ import annotations

import struct

from engine.esp.errors import MalformedPacket

PROTO_IPV4 = 4  # IP-in-IP next header (tunnel mode, RFC 4303 §2.6)
PROTO_UDP = 17
PROTO_IPV6 = 41
PROTO_ESP = 50
PROTO_AH = 51
PROTO_NONE = 59  # "no next header": ESP dummy packet, RFC 4303 §2.6
IPV6_EXT_HEADERS = (0, 43, 60)  # hop-by-hop, routing, destination options
IPV6_FRAGMENT = 44

_H10 = struct.Struct("!10H")
_V4 = struct.Struct("!BBHHHBBH4s4s")
_V6 = struct.Struct("!IHBB16s16s")


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of data (odd lengths padded with a zero byte)."""
    if len(data) == 20:
        s = sum(_H10.unpack(data))
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF
    if len(data) % 2:
        data += b"\0"
    # The one's-complement sum of 16-bit words is the number mod 0xFFFF (2^16 = 1),
    # except that a non-zero sum that is a multiple of 0xFFFF is 0xFFFF, not 0.
    s = int.from_bytes(data, "big") % 0xFFFF
    if s == 0 and any(data):
        s = 0xFFFF
    return ~s & 0xFFFF


def ipv4_header(
    src: bytes,
    dst: bytes,
    proto: int,
    payload_len: int,
    *,
    ttl: int = 64,
    tos: int = 0,
    ident: int = 0,
    flags_frag: int = 0,
) -> bytes:
    """A 20-byte IPv4 header with a correct checksum (RFC 791 §3.1).

    Args:
        flags_frag: the 16-bit flags + fragment offset field (0x4000 = DF).
    """
    total = 20 + payload_len
    if total > 0xFFFF:
        raise MalformedPacket(f"IPv4 packet of {total} bytes exceeds 65535")
    hdr = _V4.pack(0x45, tos, total, ident, flags_frag, ttl, proto, 0, src, dst)
    c = checksum(hdr)
    return hdr[:10] + bytes((c >> 8, c & 0xFF)) + hdr[12:]


def ipv4_fix(header: bytes, *, proto: int | None = None, total_len: int) -> bytes:
    """Copy of an IPv4 header (with options) with new protocol/total length and checksum."""
    h = bytearray(header)
    if proto is not None:
        h[9] = proto
    h[2:4] = total_len.to_bytes(2, "big")
    h[10:12] = b"\0\0"
    c = checksum(bytes(h))
    h[10:12] = c.to_bytes(2, "big")
    return bytes(h)


def ipv6_header(
    src: bytes,
    dst: bytes,
    next_header: int,
    payload_len: int,
    *,
    hop_limit: int = 64,
    tclass: int = 0,
    flow: int = 0,
) -> bytes:
    """A 40-byte IPv6 header (RFC 8200 §3)."""
    if payload_len > 0xFFFF:
        raise MalformedPacket(f"IPv6 payload of {payload_len} bytes needs a jumbogram")
    first = (6 << 28) | ((tclass & 0xFF) << 20) | (flow & 0xFFFFF)
    return _V6.pack(first, payload_len, next_header, hop_limit, src, dst)


def ip_version(packet: bytes) -> int:
    """4 or 6; raises MalformedPacket on anything else or a too-short packet."""
    if len(packet) < 20:
        raise MalformedPacket(f"IP packet of {len(packet)} bytes is too short")
    v = packet[0] >> 4
    if v == 4:
        ihl = (packet[0] & 0xF) * 4
        if ihl < 20 or len(packet) < ihl:
            raise MalformedPacket(f"IPv4 header length {ihl} invalid for {len(packet)} bytes")
        return 4
    if v == 6:
        if len(packet) < 40:
            raise MalformedPacket(f"IPv6 packet of {len(packet)} bytes is too short")
        return 6
    raise MalformedPacket(f"IP version {v} is neither 4 nor 6")


def split_ipv4(packet: bytes) -> tuple[bytes, int, bytes]:
    """Return (header incl. options, protocol, payload trimmed to Total Length)."""
    ihl = (packet[0] & 0xF) * 4
    total = int.from_bytes(packet[2:4], "big")
    if total < ihl or total > len(packet):
        raise MalformedPacket(f"IPv4 total length {total} inconsistent with {len(packet)} bytes")
    return packet[:ihl], packet[9], packet[ihl:total]


def split_ipv6(packet: bytes, stop_at_fragment: bool = True) -> tuple[bytes, int, int, bytes]:
    """Split after the extension headers that precede ESP/AH (RFC 4303 §3.1.1).

    Returns:
        (headers, next_header, offset of the next-header byte to patch, payload).
    """
    plen = int.from_bytes(packet[4:6], "big")
    if 40 + plen > len(packet):
        raise MalformedPacket(f"IPv6 payload length {plen} exceeds {len(packet) - 40} bytes")
    end = 40 + plen
    nh = packet[6]
    nh_pos = 6
    off = 40
    while nh in IPV6_EXT_HEADERS or (nh == IPV6_FRAGMENT and not stop_at_fragment):
        if off + 8 > end:
            raise MalformedPacket("IPv6 extension header truncated")
        hlen = 8 if nh == IPV6_FRAGMENT else (packet[off + 1] + 1) * 8
        if off + hlen > end:
            raise MalformedPacket("IPv6 extension header truncated")
        nh_pos = off
        nh = packet[off]
        off += hlen
    return packet[:off], nh, nh_pos, packet[off:end]
