"""Known packets for ladder tests: IKE, ESP (raw and UDP-encapsulated), AH+ESP, ICMP.

ESP is built with scapy's SecurityAssociation (AES-128-CBC, HMAC-SHA1-96) so the
decoder's decryption path is checked against an independent implementation.
"""

from __future__ import annotations

import struct
from pathlib import Path

KEY = bytes(range(16))
AUTH = bytes(range(100, 120))
SPI = 0x1234ABCD


def ike(exch: int, msgid: int, payloads: list[tuple[int, bytes]], flags: int = 0) -> bytes:
    """ISAKMP message (RFC 2408 §3.1 header, §3.2 generic payload headers)."""
    body = b""
    for i, (ptype, data) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        body += struct.pack("!BBH", nxt, 0, 4 + len(data)) + data
    first = payloads[0][0] if payloads else 0
    hdr = (b"\x11" * 8 + b"\x00" * 8 + struct.pack("!BBBBII", first, 0x10, exch, flags, msgid,
                                                   28 + len(body)))
    return hdr + body


def keys() -> list[dict]:
    return [{"spi": SPI, "proto": "esp", "direction": "out", "src": "10.1.1.1",
             "dst": "10.2.2.2", "encr": "aes128", "encr_key": KEY.hex(),
             "integ": "hmac-sha1-96", "integ_key": AUTH.hex(), "udp_encap": None,
             "mode": "tunnel"}]


def write_pcap(path: Path) -> Path:
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.ipsec import ESP, SecurityAssociation
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    sa = SecurityAssociation(ESP, spi=SPI, crypt_algo="AES-CBC", crypt_key=KEY,
                             auth_algo="HMAC-SHA1-96", auth_key=AUTH,
                             tunnel_header=IP(src="10.1.1.1", dst="10.2.2.2"))
    inner = IP(src="10.0.0.1", dst="10.0.2.2") / ICMP(type=8, id=7, seq=1) / (b"x" * 56)
    esp_pkt = sa.encrypt(inner)
    esp_bytes = bytes(esp_pkt[ESP])
    ah = struct.pack("!BBHII", 50, 4, 0, 0xABC, 1) + b"\0" * 12  # RFC 4302 §2: len=(24/4)-2
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out = [
        e / IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=500, dport=500) / Raw(
            ike(2, 0, [(1, b"\0" * 8), (13, b"vendor")])),
        e / IP(src="10.2.2.2", dst="10.1.1.1") / UDP(sport=500, dport=500) / Raw(
            ike(2, 0, [(1, b"\0" * 8)])),
        e / IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=4500, dport=4500) / Raw(
            b"\0\0\0\0" + ike(32, 0x42, [(8, b"h" * 20)], flags=1)),
        e / IP(src="10.2.2.2", dst="10.1.1.1") / UDP(sport=500, dport=500) / Raw(
            ike(5, 0x99, [(11, struct.pack("!IBBH", 1, 3, 4, 11) + b"spi!")])),
        e / esp_pkt,
        e / IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=4500, dport=4500) / Raw(esp_bytes),
        e / IP(src="10.1.1.1", dst="10.2.2.2", proto=51) / Raw(ah + esp_bytes),
        e / IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=4500, dport=4500) / Raw(b"\xff"),
        e / inner,
        e / IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=500, dport=500) / Raw(b"short"),
    ]
    for i, p in enumerate(out):
        p.time = 1700000000.0 + i * 0.010
    wrpcap(str(path), out)
    return path
