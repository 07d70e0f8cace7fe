"""Independent ESP decryption for checking exported strongSwan keys.

Deliberately separate from ``engine/esp`` so that it cross-checks both:
RFC 4303 §2 (ESP format), RFC 3602 (AES-CBC), RFC 2404 (HMAC-SHA-1-96),
RFC 3948 §2.2 (ESP in UDP: no marker, non-zero SPI).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_CBC = {"aes128": (algorithms.AES, 16), "aes192": (algorithms.AES, 16),
        "aes256": (algorithms.AES, 16), "3des": (algorithms.TripleDES, 8)}
_INTEG = {"hmac-sha1-96": (hashlib.sha1, 12), "hmac-md5-96": (hashlib.md5, 12),
          "hmac-sha256-128": (hashlib.sha256, 16)}


@dataclass
class Decrypted:
    spi: int
    seq: int
    next_header: int
    inner: bytes


def decrypt_esp(esp: bytes, key: dict) -> Decrypted:
    """Verify the ICV and decrypt one ESP packet (starting at the SPI)."""
    algo, iv_len = _CBC[key["encr"]]
    digest, icv_len = _INTEG[key["integ"]]
    ikey, ekey = bytes.fromhex(key["integ_key"]), bytes.fromhex(key["encr_key"])
    body, icv = esp[:-icv_len], esp[-icv_len:]
    want = hmac.new(ikey, body, digest).digest()[:icv_len]
    if not hmac.compare_digest(want, icv):
        raise ValueError(f"ICV mismatch for SPI {key['spi']:#010x}")
    spi, seq = int.from_bytes(esp[:4], "big"), int.from_bytes(esp[4:8], "big")
    iv, ct = body[8 : 8 + iv_len], body[8 + iv_len :]
    dec = Cipher(algo(ekey), modes.CBC(iv)).decryptor()
    plain = dec.update(ct) + dec.finalize()
    pad_len, next_header = plain[-2], plain[-1]
    return Decrypted(spi, seq, next_header, plain[: -2 - pad_len])


def esp_in_udp(packets: list) -> list:
    """UDP 4500 datagrams that are ESP (non-zero SPI, RFC 3948 §2.2), not keepalives/IKE."""
    from scapy.layers.inet import UDP

    out = []
    for p in packets:
        if UDP in p and 4500 in (p[UDP].sport, p[UDP].dport):
            payload = bytes(p[UDP].payload)
            if len(payload) > 8 and payload[:4] != b"\x00\x00\x00\x00":
                out.append(p)
    return out


def wait_esp(cap, n: int, within: float = 2.0) -> list:  # type: ignore[no-untyped-def]
    """ESP-in-UDP packets of capture ``cap`` once at least ``n`` are there (deadline)."""
    deadline = time.monotonic() + within
    while True:
        esp = esp_in_udp(cap.packets)
        if len(esp) >= n or time.monotonic() > deadline:
            return esp
        time.sleep(0.02)


def isakmp_messages(packets: list) -> list[tuple[str, bytes]]:
    """(source IP, ISAKMP message) of UDP 500/4500 packets (non-ESP marker stripped)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    out = []
    for p in packets:
        if UDP not in p or (IP not in p and IPv6 not in p):
            continue
        ports = (p[UDP].sport, p[UDP].dport)
        data = bytes(p[UDP].payload)
        if 4500 in ports:
            if data[:4] != b"\x00\x00\x00\x00" or len(data) < 32:
                continue                      # ESP or keepalive (RFC 3948 §2.2, §2.3)
            data = data[4:]
        elif 500 not in ports or len(data) < 28:
            continue
        out.append((p[IP].src if IP in p else p[IPv6].src, data))
    return out


def _payloads(msg: bytes) -> dict[int, bytes]:
    """Payload bodies of a cleartext ISAKMP message by type (RFC 2408 §3.1, §3.2)."""
    out, np, pos = {}, msg[16], 28
    while np and pos + 4 <= len(msg):
        nxt, length = msg[pos], int.from_bytes(msg[pos + 2 : pos + 4], "big")
        out[np] = msg[pos + 4 : pos + length]
        np, pos = nxt, pos + length
    return out


def decrypt_main_mode_id(messages: list[tuple[str, bytes]], initiator: str, key: dict) -> bytes:
    """Decrypt the initiator's Main Mode message 5 with an exported phase-1 key.

    IV = hash(g^xi | g^xr) truncated to the block size (RFC 2409 Appendix B);
    returns the plaintext (first payload: the initiator's ID).
    """
    mm = [(src, m) for src, m in messages if m[18] == 2]          # exchange ID_PROT
    kei = next(_payloads(m)[4] for src, m in mm if src == initiator and not m[19] & 1
               and 4 in _payloads(m))
    ker = next(_payloads(m)[4] for src, m in mm if src != initiator and not m[19] & 1
               and 4 in _payloads(m))
    msg5 = next(m for src, m in mm if src == initiator and m[19] & 1)
    if msg5[:8].hex() != key["initiator_cookie"]:
        raise ValueError("initiator cookie differs from the exported key's")
    iv = hashlib.sha1(kei + ker).digest()[:16]
    dec = Cipher(algorithms.AES(bytes.fromhex(key["encr_key"])), modes.CBC(iv)).decryptor()
    body = msg5[28 : int.from_bytes(msg5[24:28], "big")]
    return dec.update(body) + dec.finalize()
