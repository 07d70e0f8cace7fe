"""SA database: install, lookups, kilobyte lifetimes, NAT rebinding, key export."""

from __future__ import annotations

import ipaddress
import struct

from scapy.layers.inet import ICMP, IP, UDP

from engine.dataplane.packet import fast_key, flow_key
from engine.ike.events import IpsecSaPair, SaKeys, TrafficSelector
from engine.sadb import SaDatabase


def _pair(spi_in: int, spi_out: int, *, encap=None, kb: int = 0, ah: bool = False) -> IpsecSaPair:
    def k(spi: int, seed: int) -> tuple[SaKeys, ...]:
        esp = SaKeys(spi, "esp", "aes128", bytes([seed]) * 16, "hmac-sha1-96", bytes([seed]) * 20)
        if not ah:
            return (esp,)
        return (SaKeys(spi + 1, "ah", None, b"", "hmac-md5-96", bytes([seed]) * 16), esp)

    return IpsecSaPair(
        peer="10.0.2.1", local="10.0.1.1", mode="tunnel", inbound=k(spi_in, 1),
        outbound=k(spi_out, 2),
        local_ts=TrafficSelector(ipaddress.ip_network("192.168.1.0/24")),
        remote_ts=TrafficSelector(ipaddress.ip_network("192.168.2.0/24")),
        lifetime_seconds=3600, lifetime_kilobytes=kb, created=0.0, udp_encap=encap)


def _inner(size: int = 100) -> bytes:
    return bytes(IP(src="192.168.1.10", dst="192.168.2.10") / ICMP() / (b"x" * size))


def test_lookup_and_counters() -> None:
    db = SaDatabase()
    e = db.install(_pair(0x100, 0x200), now=0.0)
    key = flow_key(_inner())
    assert db.outbound(key) is e
    assert db.outbound(flow_key(bytes(IP(src="1.1.1.1", dst="192.168.2.10")))) is None
    assert db.inbound("esp", 0x100) == (e, e.in_bundle)
    assert db.inbound("esp", 0x200) is None
    outer = e.out_bundle.protect(_inner())
    assert outer[9] == 50 and struct.unpack_from("!I", outer, 20)[0] == 0x200
    assert e.counters()["encaps"] == 1
    keys = db.export_keys()
    assert {(k["spi"], k["direction"]) for k in keys} == {(0x100, "in"), (0x200, "out")}
    db.remove_spis([0x200])
    assert db.entries == [] and db.inbound("esp", 0x100) is None


def test_ah_esp_bundle_indexes_outer_ah_spi() -> None:
    db = SaDatabase()
    e = db.install(_pair(0x100, 0x200, ah=True), now=0.0)
    assert db.inbound("ah", 0x101) is not None and db.inbound("esp", 0x100) is None
    assert e.spi_in == 0x100 and e.spi_out == 0x200
    outer = e.out_bundle.protect(_inner())
    assert outer[9] == 51


def test_kilobyte_lifetime_rekey_then_expiry() -> None:
    db = SaDatabase()
    e = db.install(_pair(0x100, 0x200, kb=10), now=0.0)
    for _ in range(8):  # 8 × ~1 KB < 90 % of 10 KB
        e.out_bundle.protect(_inner(1000))
    assert db.due(1.0) == ([], [])
    e.out_bundle.protect(_inner(1000))
    rekey, expired = db.due(1.0)
    assert rekey == [e] and expired == []
    e.rekey_requested = True
    e.out_bundle.protect(_inner(1000))
    assert db.due(1.0) == ([], [e])
    assert db.due(3601.0 + 1) == ([], [e])


def test_nat_rebinding_moves_outbound() -> None:
    db = SaDatabase()
    e = db.install(_pair(0x100, 0x200, encap=(4500, 4500)), now=0.0)
    e.out_bundle.protect(_inner())
    db.move_peer(e, "203.0.113.9", 31000)
    out = IP(e.out_bundle.protect(_inner()))
    assert out.dst == "203.0.113.9" and out[UDP].dport == 31000 and out[UDP].sport == 4500
    assert struct.unpack_from("!I", bytes(out[UDP].payload), 4)[0] == 2  # sequence continues
    assert e.counters()["encaps"] == 2 and e.pair.peer == "203.0.113.9"


def test_fast_key() -> None:
    from scapy.layers.inet import TCP

    t = bytes(IP(src="1.2.3.4", dst="5.6.7.8") / TCP(sport=1, dport=2))
    assert fast_key(t) == bytes([6]) + bytes([1, 2, 3, 4, 5, 6, 7, 8]) + bytes([0, 1, 0, 2])
    frag = bytes(IP(src="1.2.3.4", dst="5.6.7.8", frag=10, proto=6) / (b"x" * 8))
    assert len(fast_key(frag)) == 9
    assert fast_key(bytes(IP(options=[b"\x01" * 4]))) is None
