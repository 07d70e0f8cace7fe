"""ESP/AH SA behaviour: RFC 3602 packet KAT, anti-replay, errors, fuzzing, counters."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP

from engine.esp import (
    EspError,
    InboundSa,
    IntegrityError,
    MalformedPacket,
    OutboundSa,
    ReplayError,
    ReplayWindow,
    SaConfigError,
    SaParams,
    SequenceExhausted,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _params(**kw) -> SaParams:
    base = dict(
        spi=0x1234,
        encr="aes128",
        encr_key=bytes(range(16)),
        integ="hmac-sha1-96",
        integ_key=bytes(range(20)),
        local="192.0.2.1",
        remote="192.0.2.2",
    )
    base.update(kw)
    return SaParams(**base)


def _inner(n: int = 64, df: bool = False) -> bytes:
    return bytes(IP(src="10.1.0.1", dst="10.2.0.1", flags="DF" if df else 0) / ICMP() / (b"x" * n))


def test_rfc3602_case5_transport_packet() -> None:
    case = json.loads((VECTORS / "rfc3602_aes_cbc.json").read_text())["esp_cases"][0]
    p = SaParams(
        spi=case["spi"],
        mode=case["mode"],
        encr="aes128",
        encr_key=bytes.fromhex(case["key"]),
        local=case["src"],
        remote=case["dst"],
        integ="null",
    )
    iv = bytes.fromhex(case["iv"])
    out = OutboundSa(p, iv_source=lambda n: iv)
    original, protected = bytes.fromhex(case["original"]), bytes.fromhex(case["protected"])
    assert out.protect(original) == protected
    assert InboundSa(p).unprotect(protected) == original


def test_chained_iv_differs_per_packet() -> None:
    out = OutboundSa(_params())
    a, b = out.protect(_inner()), out.protect(_inner())
    assert a[28:44] != b[28:44]  # explicit IVs after SPI/seq
    inb = InboundSa(_params())
    assert inb.unprotect(b) == _inner() and inb.unprotect(a) == _inner()


# ------------------------------------------------------------------ anti-replay


def test_replay_window_rules() -> None:
    w = ReplayWindow(64)
    for s in (1, 2, 3, 10):
        assert w.check(s) is None
        w.update(s)
    assert w.check(5) is None  # in-window, not seen: reordered packet accepted
    w.update(5)
    assert w.check(5) == "duplicate"
    assert w.check(10) == "duplicate"
    w.update(100)
    assert w.check(36) == "too old"  # 100 - 64
    assert w.check(37) is None
    assert w.check(0) == "zero"
    assert 100 in w.received() and 10 not in w.received()


def test_replay_window_sizes_and_disabled() -> None:
    big, small = ReplayWindow(1024), ReplayWindow(64)
    for w in (big, small):
        w.update(2000)
    assert big.check(1000) is None and small.check(1000) == "too old"
    assert big.check(976) == "too old"
    off = ReplayWindow(0)
    off.update(5)
    assert off.check(5) is None and off.check(0) is None


def test_replay_through_sa_check_before_integrity_update_after() -> None:
    out, inb = OutboundSa(_params()), InboundSa(_params())
    pkts = [out.protect(_inner(i)) for i in range(1, 6)]
    assert inb.unprotect(pkts[2]) == _inner(3)
    assert inb.unprotect(pkts[0]) == _inner(1)  # reordered, in window
    with pytest.raises(ReplayError, match="duplicate.*seq 3"):
        inb.unprotect(pkts[2])
    # a forged packet with a fresh seq fails integrity and must not move the window
    forged = bytearray(out.protect(_inner()))
    forged[-1] ^= 0xFF
    with pytest.raises(IntegrityError):
        inb.unprotect(bytes(forged))
    assert inb.replay.top == 3
    assert inb.counters.replay_failures == 1 and inb.counters.auth_failures == 1
    assert inb.counters.recv_errors == 2 and inb.counters.decaps == 2


def test_replay_window_1024_through_sa() -> None:
    p = _params(replay_window=1024)
    out, inb = OutboundSa(p), InboundSa(p)
    pkts = [out.protect(_inner(1)) for _ in range(1100)]
    inb.unprotect(pkts[-1])
    assert inb.unprotect(pkts[1100 - 1024]) == _inner(1)  # seq 77: 1100 - 77 < 1024
    with pytest.raises(ReplayError, match="too old"):
        inb.unprotect(pkts[50])
    p64 = _params(replay_window=64)
    inb64 = InboundSa(p64)
    inb64.unprotect(pkts[-1])
    with pytest.raises(ReplayError, match="too old"):
        inb64.unprotect(pkts[1100 - 1024])


def test_replay_disabled_accepts_duplicates() -> None:
    p = _params(replay_window=0)
    out, inb = OutboundSa(p), InboundSa(p)
    pkt = out.protect(_inner())
    assert inb.unprotect(pkt) == inb.unprotect(pkt) == _inner()


# ----------------------------------------------------------------- sequence numbers


def test_sequence_exhaustion() -> None:
    out = OutboundSa(_params(), initial_seq=0xFFFFFFFE)
    out.protect(_inner())
    assert out.seq == 0xFFFFFFFF
    with pytest.raises(SequenceExhausted, match="rekey"):
        out.protect(_inner())
    assert out.counters.send_errors == 1 and out.counters.encaps == 1


# -------------------------------------------------------------------- DF / outer


@pytest.mark.parametrize(
    "policy,inner_df,outer_df",
    [
        ("copy", True, True),
        ("copy", False, False),
        ("set", False, True),
        ("clear", True, False),
    ],
)
def test_df_policy(policy: str, inner_df: bool, outer_df: bool) -> None:
    out = OutboundSa(_params(df=policy, ttl=200))
    outer = IP(out.protect(_inner(df=inner_df)))
    assert bool(outer.flags.DF) == outer_df
    assert outer.ttl == 200 and outer.proto == 50 and outer.src == "192.0.2.1"


def test_tos_copied_to_outer() -> None:
    inner = bytes(IP(src="10.1.0.1", dst="10.2.0.1", tos=0xB8) / ICMP())
    assert IP(OutboundSa(_params()).protect(inner)).tos == 0xB8


# ---------------------------------------------------------------- errors / fuzz


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(SaConfigError, match="aes128 key is 3 bytes, need 16"):
        _params(encr_key=b"abc")
    with pytest.raises(SaConfigError, match="NULL cipher needs integrity"):
        _params(encr="null", encr_key=b"", integ="null", integ_key=b"")
    with pytest.raises(SaConfigError, match="replay window 100"):
        _params(replay_window=100)
    with pytest.raises(SaConfigError, match="AH cannot be UDP"):
        _params(proto="ah", encr="null", encr_key=b"", udp_encap=(4500, 4500))
    with pytest.raises(SaConfigError, match="differ in family"):
        _params(remote="2001:db8::1")
    with pytest.raises(SaConfigError, match="spi"):
        _params(spi=0)
    with pytest.raises(SaConfigError, match="AEAD"):
        _params(encr="aes128gcm16", encr_key=bytes(20))


def test_wrong_spi_and_non_esp() -> None:
    out, inb = OutboundSa(_params()), InboundSa(_params(spi=0x9999))
    with pytest.raises(MalformedPacket, match="does not belong"):
        inb.unprotect(out.protect(_inner()))
    with pytest.raises(MalformedPacket, match="IP protocol 1 is not 50"):
        inb.unprotect(_inner())


def test_bad_padding_detected() -> None:
    p = _params(encr="null", encr_key=b"")
    out, inb = OutboundSa(p), InboundSa(p)
    pkt = bytearray(out.protect(_inner(5)))  # NULL cipher: trailer in clear
    pad_len_pos = len(pkt) - 12 - 2
    assert pkt[pad_len_pos] > 0
    pkt[pad_len_pos - 1] ^= 0x40
    # recompute the ICV so only the padding is wrong
    body = bytes(pkt[20:-12])
    pkt[-12:] = out._mac(body)
    with pytest.raises(MalformedPacket, match="padding"):
        inb.unprotect(bytes(pkt))


@pytest.mark.parametrize(
    "encr,integ",
    [
        ("aes128", "hmac-sha1-96"),
        ("aes128gcm16", "null"),
        ("null", "hmac-md5-96"),
        ("3des", "null"),
    ],
)
def test_fuzz_never_raises_other_exceptions(encr: str, integ: str) -> None:
    from engine.crypto.algorithms import CIPHERS, INTEGRITY

    p = _params(
        encr=encr,
        encr_key=os.urandom(CIPHERS[encr].key_len),
        integ=integ,
        integ_key=os.urandom(INTEGRITY[integ].key_len),
        replay_window=0,
    )
    out, inb = OutboundSa(p), InboundSa(p)
    good = out.protect(_inner(40))
    rng = random.Random(4303)
    for i in range(3000):
        choice = i % 4
        if choice == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
        elif choice == 1:
            data = good[: rng.randrange(0, len(good))]
        elif choice == 2:
            b = bytearray(good)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            data = bytes(b)
        else:
            data = good[:20] + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        try:
            inb.unprotect(data)
        except EspError:
            pass
        try:
            inb.unprotect(data[20:], src="192.0.2.2", dst="192.0.2.1")
        except EspError:
            pass
    # the SA still works after all that garbage (the CBC chain state is not poisoned)
    assert inb.unprotect(out.protect(_inner(40))) == _inner(40)


def test_fuzz_ah() -> None:
    p = _params(proto="ah", encr="null", encr_key=b"", replay_window=0)
    out, inb = OutboundSa(p), InboundSa(p)
    good = out.protect(_inner(30))
    rng = random.Random(4302)
    for _ in range(2000):
        b = bytearray(good[: rng.randrange(0, len(good) + 1)])
        if b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        try:
            inb.unprotect(bytes(b))
        except EspError:
            pass
    assert inb.unprotect(good) == _inner(30)


# --------------------------------------------------------------- counters / batch


def test_counters_and_batch() -> None:
    out, inb = OutboundSa(_params()), InboundSa(_params())
    wires = out.protect_many([_inner(10), b"junk", _inner(20)])
    assert isinstance(wires[1], MalformedPacket)
    assert out.counters.encaps == 2 and out.counters.send_errors == 1
    assert out.counters.encrypt == 2 and out.counters.digest == 2
    results = inb.unprotect_many([wires[0], wires[2], wires[0]])
    assert results[:2] == [_inner(10), _inner(20)]
    assert isinstance(results[2], ReplayError)
    c = inb.counters.as_dict()
    assert (c["decaps"], c["decrypt"], c["verify"], c["replay_failures"]) == (2, 2, 2, 1)
    assert c["bytes_in"] == len(_inner(10)) + len(_inner(20)) == out.counters.bytes_out


def test_export_roundtrip() -> None:
    p = _params(udp_encap=(4500, 4501))
    entry = OutboundSa(p).export("out")
    assert entry["src"] == "192.0.2.1" and entry["udp_encap"] == [4500, 4501]
    assert entry["encr"] == "aes128" and entry["integ_key"] == bytes(range(20)).hex()
    q = SaParams.from_export(entry)
    assert (q.local, q.remote, q.encr_key, q.udp_encap) == (
        p.local,
        p.remote,
        p.encr_key,
        (4500, 4501),
    )
    inbound_view = SaParams.from_export(InboundSa(p).export("in"))
    assert inbound_view.local == p.local


def test_dummy_packet_next_header_59() -> None:
    p = _params()
    out, inb = OutboundSa(p), InboundSa(p)
    esp = out._esp(b"", 59)
    wire = out._tunnel_header(_inner(), 4, 50, len(esp)) + esp
    assert inb.unprotect(wire) == b""


def test_overhead_ipv6_transport() -> None:
    from scapy.layers.inet6 import IPv6

    p = _params(mode="transport", local="2001:db8::1", remote="2001:db8::2")
    out = OutboundSa(p)
    for n in (0, 7, 100):
        inner = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2", nh=59) / (b"z" * n))
        assert len(out.protect(inner)) == len(inner) + out.overhead(len(inner))


def test_overhead_matches_reality() -> None:
    for kw in (
        {},
        {"encr": "aes128gcm16", "encr_key": bytes(20), "integ": "null", "integ_key": b""},
        {"udp_encap": (4500, 4500)},
        {"mode": "transport"},
    ):
        out = OutboundSa(_params(**kw))
        for n in (0, 1, 15, 16, 17, 100):
            inner = _inner(n)
            assert len(out.protect(inner)) == len(inner) + out.overhead(len(inner))


def test_transport_nat_t_fixes_l4_checksum() -> None:
    """RFC 3948 §3.1.2: the sender's TCP checksum covers its private address."""
    from scapy.layers.inet import TCP

    p = _params(mode="transport", udp_encap=(4500, 4500), local="10.9.9.9", remote="192.0.2.2")
    out, inb = OutboundSa(p), InboundSa(p)
    inner = bytes(IP(src="10.9.9.9", dst="192.0.2.2") / TCP(sport=1, dport=2) / b"data")
    wire = bytearray(out.protect(inner))
    # a NAT rewrites the outer source address (and the header checksum)
    natted = IP(bytes(wire))
    natted.src = "203.0.113.7"
    del natted.chksum
    got = IP(inb.unprotect(bytes(natted)))
    assert got.src == "203.0.113.7"
    fixed = got[TCP].chksum
    del got[TCP].chksum
    assert IP(bytes(got))[TCP].chksum == fixed
    assert OutboundSa(p).seq_remaining == 0xFFFFFFFF


@pytest.mark.parametrize("inner_ecn,result", [(1, 3), (2, 3), (3, 3), (0, None)])
def test_ecn_ce_decapsulation(inner_ecn: int, result: int | None) -> None:
    """RFC 6040 §4.2: outer CE -> inner CE; Not-ECT inner with CE outer is dropped."""
    out, inb = OutboundSa(_params()), InboundSa(_params())
    inner = bytes(IP(src="10.1.0.1", dst="10.2.0.1", tos=0xB8 | inner_ecn) / ICMP())
    wire = bytearray(out.protect(inner))
    assert wire[1] & 3 == inner_ecn  # normal mode: ECN copied on encapsulation
    wire[1] |= 3  # a congested router marks CE on the outer header
    if result is None:
        with pytest.raises(MalformedPacket, match="not ECN-capable"):
            inb.unprotect(bytes(wire))
        return
    got = IP(inb.unprotect(bytes(wire)))
    assert got.tos == 0xB8 | result
    chk = got.chksum
    del got.chksum
    assert IP(bytes(got)).chksum == chk
