"""IPv4 fragmentation and reassembly (RFC 791 §3.2, RFC 815), DF handling. Pure code.

Pre-fragmentation (IOS default ``crypto ipsec fragmentation before-encryption``):
fragment the inner packet to ``OutboundSa.max_inner_len(mtu)`` and protect each
fragment. Post-fragmentation: protect, then fragment the outer packet to the
link MTU; the receiver reassembles the outer packet before ``unprotect``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.esp.errors import EspError, MalformedPacket
from engine.esp.ip import checksum, ipv4_fix, ipv4_header, ipv6_header

DF = 0x4000
MF = 0x2000
OFFSET_MASK = 0x1FFF


class FragmentationNeeded(EspError):
    """Packet larger than the MTU with DF set (send ICMP type 3 code 4 with ``mtu``)."""

    def __init__(self, size: int, mtu: int) -> None:
        super().__init__(f"packet of {size} bytes exceeds MTU {mtu} and has DF set")
        self.size = size
        self.mtu = mtu


def _flags(packet: bytes) -> int:
    return int.from_bytes(packet[6:8], "big")


def is_fragment(packet: bytes) -> bool:
    """True for any IPv4 fragment (MF set or non-zero offset)."""
    return bool(_flags(packet) & (MF | OFFSET_MASK))


def df_set(packet: bytes) -> bool:
    return bool(_flags(packet) & DF)


def set_df(packet: bytes, policy: str) -> bytes:
    """Apply a DF policy (``copy`` = unchanged, ``set``, ``clear``) to an IPv4 packet."""
    if policy == "copy" or packet[0] >> 4 != 4:
        return packet
    flags = _flags(packet)
    new = flags | DF if policy == "set" else flags & ~DF
    if new == flags:
        return packet
    h = bytearray(packet[: (packet[0] & 0xF) * 4])
    h[6:8] = new.to_bytes(2, "big")
    h[10:12] = b"\0\0"
    h[10:12] = checksum(bytes(h)).to_bytes(2, "big")
    return bytes(h) + packet[len(h) :]


def _copied_options(options: bytes) -> bytes:
    """Options whose copied flag is set (RFC 791 §3.1), padded to 32 bits."""
    out = bytearray()
    i = 0
    while i < len(options):
        t = options[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            break
        ln = options[i + 1]
        if t & 0x80:
            out += options[i : i + ln]
        i += ln
    out += bytes((-len(out)) % 4)
    return bytes(out)


def fragment_ipv4(packet: bytes, mtu: int, *, ignore_df: bool = False) -> list[bytes]:
    """Split an IPv4 packet into fragments of at most mtu bytes.

    Raises:
        FragmentationNeeded: too big, DF set and not ignore_df.
        MalformedPacket: not an IPv4 packet, or an MTU too small to carry 8 bytes.
    """
    if len(packet) < 20 or packet[0] >> 4 != 4:
        raise MalformedPacket("fragment_ipv4: not an IPv4 packet")
    ihl = (packet[0] & 0xF) * 4
    total = int.from_bytes(packet[2:4], "big")
    if ihl < 20 or total < ihl or total > len(packet):
        raise MalformedPacket("fragment_ipv4: bad header or total length")
    if total <= mtu:
        return [packet]
    flags = _flags(packet)
    if flags & DF and not ignore_df:
        raise FragmentationNeeded(total, mtu)
    header, payload = packet[:ihl], packet[ihl:total]
    base_off = (flags & OFFSET_MASK) * 8
    last_mf = flags & MF
    later_hdr = packet[:20] + _copied_options(packet[20:ihl])
    frags: list[bytes] = []
    pos = 0
    while pos < len(payload):
        hdr = header if pos == 0 else later_hdr
        room = (mtu - len(hdr)) // 8 * 8
        if room <= 0:
            raise MalformedPacket(f"MTU {mtu} too small to fragment")
        chunk = payload[pos : pos + room]
        more = MF if pos + len(chunk) < len(payload) else last_mf
        h = bytearray(hdr)
        h[0] = 0x40 | (len(hdr) // 4)
        h[6:8] = ((flags & DF) | more | ((base_off + pos) // 8)).to_bytes(2, "big")
        frags.append(ipv4_fix(bytes(h), total_len=len(h) + len(chunk)) + chunk)
        pos += len(chunk)
    return frags


@dataclass
class _Pending:
    first_seen: float
    header: bytes | None = None
    parts: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None  # payload length, known once the last fragment arrived
    size: int = 0


class Reassembler:
    """Collects IPv4 fragments keyed by (src, dst, protocol, id) (RFC 791 §3.2).

    Overlapping fragments are dropped with the whole datagram (RFC 5722 spirit),
    so no fragment can overwrite data an earlier one supplied.

    Attributes:
        timeout: seconds a partial datagram is kept (``now`` comes from the caller).
        max_pending: datagrams in progress before the oldest is evicted.
    """

    def __init__(self, timeout: float = 30.0, max_pending: int = 256) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: dict[tuple[bytes, bytes, int, int], _Pending] = {}
        self.timeouts = 0
        self.errors = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, packet: bytes, now: float) -> bytes | None:
        """Feed one packet; returns the whole datagram when complete, else None.

        Non-fragments are returned unchanged.

        Raises:
            MalformedPacket: inconsistent fragment (the datagram is discarded).
        """
        if len(packet) < 20 or packet[0] >> 4 != 4:
            raise MalformedPacket("reassembly: not an IPv4 packet")
        flags = _flags(packet)
        if not flags & (MF | OFFSET_MASK):
            return packet
        self.expire(now)
        ihl = (packet[0] & 0xF) * 4
        total = int.from_bytes(packet[2:4], "big")
        if ihl < 20 or total > len(packet) or total < ihl:
            raise MalformedPacket("reassembly: bad header or total length")
        key = (packet[12:16], packet[16:20], packet[9], int.from_bytes(packet[4:6], "big"))
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self.max_pending:
                oldest = min(self._pending, key=lambda k: self._pending[k].first_seen)
                del self._pending[oldest]
            entry = self._pending[key] = _Pending(now)
        off = (flags & OFFSET_MASK) * 8
        data = packet[ihl:total]
        if (flags & MF and len(data) % 8) or off + len(data) > 65535 - 20:
            self._drop(key)
            raise MalformedPacket("reassembly: fragment length not a multiple of 8 or too large")
        for o, d in entry.parts.items():
            if off < o + len(d) and o < off + len(data) and not (o == off and d == data):
                self._drop(key)
                raise MalformedPacket("reassembly: overlapping fragments")
        entry.parts[off] = data
        if off == 0:
            entry.header = packet[:ihl]
        if not flags & MF:
            entry.total = off + len(data)
        if entry.header is None or entry.total is None:
            return None
        covered = 0
        for o in sorted(entry.parts):
            if o != covered:
                return None
            covered += len(entry.parts[o])
        if covered != entry.total:
            return None
        del self._pending[key]
        payload = b"".join(entry.parts[o] for o in sorted(entry.parts))
        h = bytearray(entry.header)
        h[6:8] = (_flags(entry.header) & DF).to_bytes(2, "big")
        return ipv4_fix(bytes(h), total_len=len(h) + len(payload)) + payload

    def expire(self, now: float) -> int:
        """Drop partial datagrams older than timeout; returns how many."""
        old = [k for k, e in self._pending.items() if now - e.first_seen > self.timeout]
        for k in old:
            del self._pending[k]
        self.timeouts += len(old)
        return len(old)

    def _drop(self, key: tuple[bytes, bytes, int, int]) -> None:
        self._pending.pop(key, None)
        self.errors += 1


def icmp_frag_needed(packet: bytes, mtu: int, router: bytes, ttl: int = 255) -> bytes:
    """ICMP Destination Unreachable, Fragmentation Needed (RFC 792, RFC 1191 §4).

    What a router sends back when a DF packet does not fit: ``mtu`` is the
    next-hop MTU the sender may use (for a tunnel, ``OutboundSa.max_inner_len``
    of the path MTU). Quotes the offending header plus 8 bytes of its payload.

    Args:
        packet: the IPv4 packet that did not fit.
        mtu: next-hop MTU to report.
        router: our address (4 bytes) used as the ICMP source.
    """
    ihl = (packet[0] & 0xF) * 4
    quote = packet[: ihl + 8]
    body = bytearray(b"\x03\x04\0\0\0\0" + mtu.to_bytes(2, "big") + quote)
    body[2:4] = checksum(bytes(body)).to_bytes(2, "big")
    return ipv4_header(router, packet[12:16], 1, len(body), ttl=ttl) + bytes(body)


def icmpv6_packet_too_big(packet: bytes, mtu: int, router: bytes, hop_limit: int = 255) -> bytes:
    """ICMPv6 Packet Too Big (RFC 4443 §3.2), quoting as much as fits in 1280 bytes."""
    quote = packet[: 1280 - 40 - 8]
    body = bytearray(b"\x02\x00\0\0" + mtu.to_bytes(4, "big") + quote)
    pseudo = router + packet[8:24] + len(body).to_bytes(4, "big") + b"\0\0\0\x3a"
    body[2:4] = checksum(pseudo + bytes(body)).to_bytes(2, "big")
    return ipv6_header(router, packet[8:24], 58, len(body), hop_limit=hop_limit) + bytes(body)
