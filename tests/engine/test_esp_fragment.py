"""IPv4 fragmentation/reassembly helpers, checked with scapy's defragmenter too."""

from __future__ import annotations

import os
import random

import pytest
from scapy.layers.inet import ICMP, IP, defragment

from engine.esp import InboundSa, OutboundSa, SaParams
from engine.esp.errors import MalformedPacket
from engine.esp.fragment import (
    FragmentationNeeded,
    Reassembler,
    df_set,
    fragment_ipv4,
    is_fragment,
    set_df,
)
from engine.esp.ip import checksum


def _pkt(size: int, df: bool = False) -> bytes:
    return bytes(
        IP(src="10.0.0.1", dst="10.0.0.2", id=4242, flags="DF" if df else 0)
        / ICMP()
        / os.urandom(size)
    )


@pytest.mark.parametrize("mtu", [68, 576, 1000, 1400])
def test_fragment_roundtrip(mtu: int) -> None:
    pkt = _pkt(3000)
    frags = fragment_ipv4(pkt, mtu)
    assert all(len(f) <= mtu for f in frags) and len(frags) > 1
    assert all(checksum(f[:20]) == 0 for f in frags)
    assert all(is_fragment(f) for f in frags)
    # scapy agrees on the layout
    assert bytes(defragment([IP(f) for f in frags])[0]) == pkt
    r = Reassembler()
    shuffled = frags[:]
    random.Random(1).shuffle(shuffled)
    results = [r.add(f, now=0.0) for f in shuffled]
    assert results[:-1] == [None] * (len(frags) - 1)
    assert results[-1] == pkt and len(r) == 0


def test_small_packet_untouched_and_df() -> None:
    pkt = _pkt(100, df=True)
    assert fragment_ipv4(pkt, 1500) == [pkt]
    with pytest.raises(FragmentationNeeded) as e:
        fragment_ipv4(_pkt(2000, df=True), 1400)
    assert e.value.mtu == 1400
    frags = fragment_ipv4(_pkt(2000, df=True), 1400, ignore_df=True)
    assert len(frags) == 2


def test_set_df_policies() -> None:
    pkt = _pkt(10)
    assert not df_set(pkt)
    s = set_df(pkt, "set")
    assert df_set(s) and checksum(s[:20]) == 0 and IP(s).flags == "DF"
    assert not df_set(set_df(s, "clear")) and set_df(s, "copy") == s


def test_reassembly_timeout_and_overlap() -> None:
    frags = fragment_ipv4(_pkt(2000), 600)
    r = Reassembler(timeout=5)
    assert r.add(frags[0], now=0) is None
    assert r.add(frags[1], now=10) is None  # first one expired meanwhile
    assert r.timeouts == 1
    bad = bytearray(frags[1])
    bad[6:8] = ((int.from_bytes(bad[6:8], "big") & 0xE000) | 1).to_bytes(2, "big")  # offset 8
    with pytest.raises(MalformedPacket, match="overlapping"):
        r.add(bytes(bad), now=10)
    whole = _pkt(10)
    assert r.add(whole, now=11) == whole  # non-fragments pass through


def test_post_fragmentation_through_esp() -> None:
    p = SaParams(
        0x99,
        encr="aes128",
        encr_key=os.urandom(16),
        integ="hmac-sha1-96",
        integ_key=os.urandom(20),
        local="192.0.2.1",
        remote="192.0.2.2",
        df="clear",
    )
    out, inb = OutboundSa(p), InboundSa(p)
    inner = _pkt(1460, df=True)
    wire = out.protect(inner)
    assert len(wire) > 1500 and not df_set(wire)
    frags = fragment_ipv4(wire, 1500)
    r = Reassembler()
    whole = [x for x in (r.add(f, 0) for f in frags) if x]
    assert inb.unprotect(whole[0]) == inner


def test_pre_fragmentation_fits_mtu() -> None:
    p = SaParams(
        0x98,
        encr="aes256",
        encr_key=os.urandom(32),
        integ="hmac-sha256-128",
        integ_key=os.urandom(32),
        local="192.0.2.1",
        remote="192.0.2.2",
    )
    out, inb = OutboundSa(p), InboundSa(p)
    limit = out.max_inner_len(1500)
    assert len(out.protect(_pkt(limit - 28))) <= 1500
    assert len(out.protect(_pkt(limit - 28 + 16))) > 1500
    inner = _pkt(3000)
    frags = fragment_ipv4(inner, limit)
    wires = [out.protect(f) for f in frags]
    assert all(len(w) <= 1500 for w in wires)
    r = Reassembler()
    got = [r.add(inb.unprotect(w), 0) for w in wires]
    assert got[-1] == inner


def test_icmp_frag_needed() -> None:
    from scapy.layers.inet import IPerror
    from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6

    from engine.esp.fragment import icmp_frag_needed, icmpv6_packet_too_big

    big = _pkt(1460, df=True)
    icmp = IP(icmp_frag_needed(big, 1422, bytes([10, 0, 0, 254])))
    assert icmp.src == "10.0.0.254" and icmp.dst == "10.0.0.1"
    assert (icmp[ICMP].type, icmp[ICMP].code, icmp[ICMP].nexthopmtu) == (3, 4, 1422)
    assert icmp[IPerror].id == 4242
    chk = icmp[ICMP].chksum
    del icmp[ICMP].chksum
    assert IP(bytes(icmp))[ICMP].chksum == chk

    big6 = bytes(IPv6(src="fd00:1::10", dst="fd00:2::10") / ICMP() / os.urandom(1400))
    ptb = IPv6(
        icmpv6_packet_too_big(big6, 1400, bytes.fromhex("fd00000100000000" + "0" * 15 + "1"))
    )
    assert ptb[ICMPv6PacketTooBig].mtu == 1400 and ptb.dst == "fd00:1::10"
    assert len(bytes(ptb)) == 1280
    chk6 = ptb[ICMPv6PacketTooBig].cksum
    del ptb[ICMPv6PacketTooBig].cksum
    assert IPv6(bytes(ptb))[ICMPv6PacketTooBig].cksum == chk6


def test_fuzz_fragment_helpers() -> None:
    from engine.esp.errors import EspError

    rng = random.Random(791)
    frags = fragment_ipv4(_pkt(3000), 600)
    r = Reassembler(max_pending=16)
    for i in range(5000):
        f = bytearray(rng.choice(frags))
        for _ in range(rng.randrange(0, 4)):
            f[rng.randrange(len(f))] = rng.randrange(256)
        data = bytes(f[: rng.randrange(0, len(f) + 1)]) if i % 3 == 0 else bytes(f)
        for call in (lambda: r.add(data, i * 0.001), lambda: fragment_ipv4(data, 576)):
            try:
                call()
            except EspError:
                pass
    assert len(r) <= 16
