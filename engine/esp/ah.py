"""AH integrity input: IP headers with mutable fields zeroed (RFC 4302 §3.3.3.1, App. A)."""

from __future__ import annotations

# RFC 4302 App. A1: IPv4 options included unchanged in the ICV; all others are zeroed.
IMMUTABLE_V4_OPTIONS = frozenset({0, 1, 130, 133, 134, 148, 149})
_V6_OPTION_HEADERS = (0, 60)  # hop-by-hop, destination options (RFC 8200 §4.2)


def _zero_v4_options(h: bytearray) -> None:
    i, end = 20, len(h)
    while i < end:
        t = h[i]
        if t == 0:  # end of option list: the rest is padding
            break
        if t == 1:
            i += 1
            continue
        ln = h[i + 1] if i + 1 < end else 0
        if ln < 2 or i + ln > end:
            h[i:end] = bytes(end - i)  # malformed: zero what is left
            return
        if t not in IMMUTABLE_V4_OPTIONS:
            h[i : i + ln] = bytes(ln)
        i += ln


def _zero_v6_option_data(h: bytearray, start: int, end: int) -> None:
    """Zero the data of options whose type has the "may change en route" bit (0x20)."""
    i = start
    while i < end:
        t = h[i]
        if t == 0:  # Pad1
            i += 1
            continue
        if i + 1 >= end:
            return
        ln = h[i + 1]
        if t & 0x20:
            h[i + 2 : min(i + 2 + ln, end)] = bytes(min(ln, end - i - 2))
        i += 2 + ln


def mutable_zeroed(header: bytes) -> bytes:
    """The IP header(s) before AH as they enter the ICV computation.

    IPv4: TOS, flags/fragment offset, TTL and checksum zeroed, mutable options
    zeroed. IPv6: traffic class, flow label and hop limit zeroed, option data of
    hop-by-hop/destination options marked mutable zeroed. Routing headers are taken
    as they are (type 0 is deprecated; RFC 8200 §4.4 types the engine never sends).
    """
    h = bytearray(header)
    if header[0] >> 4 == 4:
        h[1] = 0  # TOS
        h[6:9] = b"\0\0\0"  # flags + fragment offset, TTL
        h[10:12] = b"\0\0"  # header checksum
        if len(h) > 20:
            _zero_v4_options(h)
        return bytes(h)
    h[0:4] = b"\x60\0\0\0"  # version kept; traffic class and flow label zeroed
    h[7] = 0  # hop limit
    nh, off = h[6], 40
    while off + 2 <= len(h):
        hlen = (h[off + 1] + 1) * 8
        if nh in _V6_OPTION_HEADERS:
            _zero_v6_option_data(h, off + 2, min(off + hlen, len(h)))
        nh = h[off]
        off += hlen
    return bytes(h)
