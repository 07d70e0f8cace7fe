"""Minimal IP header parsing for the fast path (no scapy)."""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ESP = 50
PROTO_AH = 51
PROTO_ICMPV6 = 58


class FlowKey(NamedTuple):
    """Selector fields of an IP packet (ports 0 when absent)."""

    src: str
    dst: str
    proto: int
    sport: int
    dport: int


def flow_key(pkt: bytes) -> FlowKey | None:
    """5-tuple of an IPv4/IPv6 packet, None if it is not a parseable IP packet."""
    if len(pkt) < 20:
        return None
    ver = pkt[0] >> 4
    if ver == 4:
        ihl = (pkt[0] & 0x0F) * 4
        if ihl < 20 or len(pkt) < ihl:
            return None
        proto = pkt[9]
        src = ipaddress.IPv4Address(pkt[12:16]).compressed
        dst = ipaddress.IPv4Address(pkt[16:20]).compressed
        frag_off = struct.unpack_from("!H", pkt, 6)[0] & 0x1FFF
        off = ihl
        if frag_off:  # non-first fragment: no ports
            return FlowKey(src, dst, proto, 0, 0)
    elif ver == 6:
        if len(pkt) < 40:
            return None
        proto = pkt[6]
        src = ipaddress.IPv6Address(pkt[8:24]).compressed
        dst = ipaddress.IPv6Address(pkt[24:40]).compressed
        off = 40
    else:
        return None
    sport = dport = 0
    if proto in (PROTO_TCP, PROTO_UDP) and len(pkt) >= off + 4:
        sport, dport = struct.unpack_from("!HH", pkt, off)
    return FlowKey(src, dst, proto, sport, dport)


def ipv4_header(pkt: bytes) -> tuple[int, int, str, str] | None:
    """(header length, protocol, src, dst) of an IPv4 packet, None if not IPv4."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    if ihl < 20 or len(pkt) < ihl:
        return None
    return (ihl, pkt[9], ipaddress.IPv4Address(pkt[12:16]).compressed,
            ipaddress.IPv4Address(pkt[16:20]).compressed)


def fast_key(pkt: bytes) -> bytes | None:
    """Raw-bytes flow key of an option-less IPv4 packet (protocol, addresses,
    TCP/UDP ports of first fragments); None for anything else (slow path)."""
    if len(pkt) < 24 or pkt[0] != 0x45:
        return None
    if pkt[9] in (PROTO_TCP, PROTO_UDP) and not (pkt[6] & 0x1F or pkt[7]):
        return pkt[9:10] + pkt[12:24]
    return pkt[9:10] + pkt[12:20]
