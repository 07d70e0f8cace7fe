"""Egress fragmentation and DF-bit policy for IPsec (seed 000, Table 2). Pure code.

Seed ``000_c6e6876e9d817ea1.txt`` L583–734 (Table 2) fixes what happens to an
inner packet that no longer fits the egress MTU once encapsulated, from three
inputs: the incoming packet's DF bit, the output interface's
``crypto ipsec df-bit clear|set|copy`` (interface overrides global, L3369–3372,
L3425–3427; default ``copy``) and the pre-fragmentation state
(``crypto ipsec fragmentation before-encryption|after-encryption``):

* inner DF=1 with ``set`` or ``copy`` → dropped (rows 6, 8, 10, 12); we also
  send ICMP Destination Unreachable / Fragmentation Needed (RFC 1191 §4) with
  the tunnel's usable MTU to the inner source (inferred: the seed gives no ICMP
  behaviour; a router dropping a DF packet is required to send it, RFC 1812 §4.3.2.2);
* otherwise pre-fragmentation on → the inner packet is fragmented into
  near-equal pieces (L540 "同じサイズの単位") and each is protected into its own
  ESP/AH packet, none of which needs fragmenting (rows 1, 2, 5, 9);
* otherwise → one protected packet whose outer IPv4 header is fragmented
  (rows 3, 4, 7, 11); the peer reassembles before decryption.

The outer DF bit follows the df-bit mode (``clear`` 0, ``set`` 1, ``copy`` =
inner DF), DF-bit chapter L3352–3353, tunnel mode only (L3342–3345). Row 7
(``set``, pre-fragmentation off, inner DF=0) is reproduced as written: the
encrypting router fragments the outer packet itself and the fragments carry
DF=1 (inferred: the DF bit binds routers downstream, not the encapsulating one).
Inner fragments made by pre-fragmentation have DF cleared (row 2, inferred).

Transport mode has no encapsulating header: neither df-bit nor
pre-fragmentation applies (L574–575, L3342–3345); an oversize packet is
fragmented after protection unless its own DF bit is set (then dropped + ICMP).
IPv6 inner packets are never fragmented by a router (RFC 8200 §5): too big →
ICMPv6 Packet Too Big.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Literal

from engine.esp.fragment import DF, icmp_frag_needed, icmpv6_packet_too_big, set_df
from engine.esp.ip import checksum

DfMode = Literal["clear", "set", "copy"]
Fragmentation = Literal["before-encryption", "after-encryption"]
Action = Literal["send", "pre-fragment", "post-fragment", "drop"]

DF_MODES = ("clear", "set", "copy")
FRAGMENTATION_MODES = ("before-encryption", "after-encryption")


@dataclass(frozen=True)
class Table2Row:
    """One row of seed 000 Table 2 (L587–734), in the document's order.

    Attributes:
        row: row number (1..12) in the order the document lists them.
        prefrag: pre-fragmentation enabled.
        df_mode: output interface ``crypto ipsec df-bit`` setting.
        inner_df: DF bit of the incoming packet.
        result: ``pre-fragment``, ``post-fragment`` or ``drop``.
        lines: seed line range of the row.
        text: the document's result, translated.
    """

    row: int
    prefrag: bool
    df_mode: DfMode
    inner_df: bool
    result: Action
    lines: str
    text: str


_BEFORE = "Fragmentation is performed before encryption"
_AFTER = "Fragmentation after encryption, reassembled before decryption"
_DROP = "Packet is dropped"

TABLE2: tuple[Table2Row, ...] = (
    Table2Row(1, True, "clear", False, "pre-fragment", "L602–611", _BEFORE),
    Table2Row(2, True, "clear", True, "pre-fragment", "L613–622", _BEFORE),
    Table2Row(3, False, "clear", False, "post-fragment", "L624–635", _AFTER),
    Table2Row(4, False, "clear", True, "post-fragment", "L637–648", _AFTER),
    Table2Row(5, True, "set", False, "pre-fragment", "L650–659", _BEFORE),
    Table2Row(6, True, "set", True, "drop", "L661–668", _DROP),
    Table2Row(7, False, "set", False, "post-fragment", "L682–693", _AFTER),
    Table2Row(8, False, "set", True, "drop", "L695–702", _DROP),
    Table2Row(9, True, "copy", False, "pre-fragment", "L704–710", _BEFORE),
    Table2Row(10, True, "copy", True, "drop", "L712–716", _DROP),
    Table2Row(11, False, "copy", False, "post-fragment", "L718–728", _AFTER),
    Table2Row(12, False, "copy", True, "drop", "L730–734", _DROP),
)


@dataclass(frozen=True)
class Decision:
    """What to do with one inner packet.

    Attributes:
        action: ``send`` (fits), ``pre-fragment``, ``post-fragment`` or ``drop``.
        outer_df: DF bit of the encapsulating header (tunnel mode).
        row: the Table 2 row applied, None when the packet fits or in transport mode.
    """

    action: Action
    outer_df: bool
    row: int | None = None


def outer_df(df_mode: str, inner_df: bool) -> bool:
    """DF bit of the encapsulating header (DF-bit chapter L3352–3353)."""
    if df_mode not in DF_MODES:
        raise ValueError(f"df-bit mode {df_mode!r} is not one of {', '.join(DF_MODES)}")
    return {"clear": False, "set": True}.get(df_mode, inner_df)


def decide(
    inner_df: bool, df_mode: str, fragmentation: str, too_big: bool, tunnel: bool = True
) -> Decision:
    """Table 2 as a function (seed 000 L587–734).

    Args:
        inner_df: DF bit of the incoming (inner) packet.
        df_mode: effective ``crypto ipsec df-bit`` of the egress interface.
        fragmentation: effective ``crypto ipsec fragmentation`` mode.
        too_big: the protected packet would exceed the egress MTU.
        tunnel: tunnel mode (transport mode ignores df-bit and pre-fragmentation).
    """
    if fragmentation not in FRAGMENTATION_MODES:
        raise ValueError(
            f"fragmentation {fragmentation!r} is not one of {', '.join(FRAGMENTATION_MODES)}"
        )
    if not tunnel:
        if not too_big:
            return Decision("send", inner_df)
        return Decision("drop" if inner_df else "post-fragment", inner_df)
    df = outer_df(df_mode, inner_df)
    if not too_big:
        return Decision("send", df)
    prefrag = fragmentation == "before-encryption"
    for r in TABLE2:
        if (r.prefrag, r.df_mode, r.inner_df) == (prefrag, df_mode, inner_df):
            return Decision(r.result, df, r.row)
    raise AssertionError("Table 2 covers every combination")  # pragma: no cover


@dataclass
class EgressResult:
    """Output of :meth:`Egress.process`.

    Attributes:
        packets: outer packets to send, in order (each fits the MTU).
        icmp: ICMP(v6) error to send back to the inner packet's source, if any.
        decision: the decision taken.
        pieces: number of inner packets protected (1, or the pre-fragments).
    """

    packets: list[bytes]
    icmp: bytes | None
    decision: Decision
    pieces: int = 0


def _with_df(packet: bytes, df: bool) -> bytes:
    return set_df(packet, "set" if df else "clear")


def equal_fragments(packet: bytes, max_len: int) -> list[bytes]:
    """Fragment an IPv4 packet into the fewest near-equal pieces of at most max_len.

    Seed 000 L538–541: packets are split into units of the same size. DF is
    cleared on the pieces; options are copied per RFC 791 §3.1 only into the first.

    Raises:
        ValueError: not IPv4, or max_len cannot carry 8 bytes of payload.
    """
    if len(packet) < 20 or packet[0] >> 4 != 4:
        raise ValueError("equal_fragments: not an IPv4 packet")
    ihl = (packet[0] & 0xF) * 4
    total = int.from_bytes(packet[2:4], "big")
    if total <= max_len:
        return [packet]
    flags = int.from_bytes(packet[6:8], "big")
    base = (flags & 0x1FFF) * 8
    last_mf = flags & 0x2000
    payload = packet[ihl:total]
    room = (max_len - ihl) // 8 * 8  # largest piece, rounded to 8 (RFC 791 §3.2)
    if room <= 0:
        raise ValueError(f"MTU {max_len} too small to fragment")
    n = -(-len(payload) // room)
    size = -(-len(payload) // n)
    size = -(-size // 8) * 8
    out: list[bytes] = []
    for pos in range(0, len(payload), size):
        chunk = payload[pos : pos + size]
        more = 0x2000 if pos + size < len(payload) else last_mf
        h = bytearray(packet[:20])  # options dropped: ESP pieces need no copied options
        h[0] = 0x45
        h[2:4] = (20 + len(chunk)).to_bytes(2, "big")
        h[6:8] = (more | ((base + pos) // 8)).to_bytes(2, "big")
        h[10:12] = b"\0\0"
        h[10:12] = checksum(bytes(h)).to_bytes(2, "big")
        out.append(bytes(h) + chunk)
    return out


def post_fragments(packet: bytes, mtu: int, ident: int) -> list[bytes]:
    """Fragment a protected IPv4 packet to mtu, keeping its DF bit (rows 3, 4, 7, 11)."""
    if len(packet) <= mtu:
        return [packet]
    flags = int.from_bytes(packet[6:8], "big")
    h = bytearray(packet[:20])
    if h[4:6] == b"\0\0":
        h[4:6] = ident.to_bytes(2, "big")
    h[6:8] = (flags & ~DF).to_bytes(2, "big")
    h[10:12] = b"\0\0"
    h[10:12] = checksum(bytes(h)).to_bytes(2, "big")
    frags = equal_fragments(bytes(h) + packet[20:], mtu) if (packet[0] & 0xF) == 5 else None
    if frags is None:
        raise ValueError("post_fragments: outer header with options")
    if flags & DF:
        frags = [_with_df(f, True) for f in frags]
    return frags


@dataclass
class Egress:
    """Applies Table 2 to outbound packets; state is only the IPv4 ID counter
    (the runner counts the decisions: ``lab counters`` ``egress_<action>``).

    Usage (runner, once per inner packet)::

        res = egress.process(inner, protect=entry.out_bundle.protect,
                             max_inner=entry.out_bundle.max_inner_len(mtu), mtu=mtu,
                             df_mode=..., fragmentation=..., tunnel=...,
                             router=our_address_bytes)
        for p in res.packets: send(p)
        if res.icmp: send back towards the inner source
    """

    ident: int = field(default_factory=lambda: int.from_bytes(os.urandom(2), "big"))

    def _next_ident(self) -> int:
        self.ident = (self.ident + 1) & 0xFFFF or 1
        return self.ident

    def process(
        self,
        inner: bytes,
        *,
        protect: Callable[[bytes], bytes],
        max_inner: int,
        mtu: int,
        df_mode: str,
        fragmentation: str,
        tunnel: bool,
        router: bytes,
    ) -> EgressResult:
        """Protect ``inner`` and return what goes on the wire.

        Args:
            inner: the clear-text IP packet from the TUN.
            protect: ``OutboundBundle.protect`` of the SA pair.
            max_inner: largest inner packet that fits ``mtu`` once protected.
            mtu: egress MTU towards the peer.
            df_mode: effective ``crypto ipsec df-bit`` of the crypto map interface.
            fragmentation: effective ``crypto ipsec fragmentation`` mode.
            tunnel: tunnel mode SA.
            router: our IPv4 (4 bytes) or IPv6 (16 bytes) address for ICMP errors.
        """
        v4 = inner[0] >> 4 == 4
        inner_df = v4 and bool(int.from_bytes(inner[6:8], "big") & DF)
        too_big = len(inner) > max_inner
        if not v4:
            if too_big:
                d = Decision("drop", False)
                icmp = (
                    icmpv6_packet_too_big(inner, max(1280, max_inner), router)
                    if len(router) == 16
                    else None
                )
                return EgressResult([], icmp, d)
            d = Decision("send", False)
            return EgressResult([protect(inner)], None, d, 1)
        d = decide(inner_df, df_mode, fragmentation, too_big, tunnel)
        if d.action == "drop":
            icmp = icmp_frag_needed(inner, max_inner, router) if len(router) == 4 else None
            return EgressResult([], icmp, d)
        if d.action == "pre-fragment":
            pieces = equal_fragments(inner, max_inner)
            outs = [protect(p) for p in pieces]
            if tunnel:
                outs = [_with_df(o, d.outer_df) for o in outs]
            return EgressResult(outs, None, d, len(pieces))
        outer = protect(inner)
        if tunnel and outer[0] >> 4 == 4:
            outer = _with_df(outer, d.outer_df)
        if d.action == "send" or outer[0] >> 4 != 4:
            return EgressResult([outer], None, d, 1)
        return EgressResult(post_fragments(outer, mtu, self._next_ident()), None, d, 1)


__all__ = [
    "DF_MODES",
    "Decision",
    "Egress",
    "EgressResult",
    "FRAGMENTATION_MODES",
    "TABLE2",
    "Table2Row",
    "decide",
    "equal_fragments",
    "outer_df",
    "post_fragments",
]
