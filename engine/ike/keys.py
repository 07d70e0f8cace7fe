"""IKEv1 key derivation (RFC 2409 §5, §5.5, Appendix B).

Pure functions over a ``Prf`` from ``engine/crypto/algorithms.py`` (anything
with ``prf(key, data)``, ``hash(data)`` and ``digest_len``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol


class PrfLike(Protocol):
    digest_len: int

    def prf(self, key: bytes, data: bytes) -> bytes: ...

    def hash(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Phase1Keys:
    """SKEYID and its three children, plus the expanded encryption key."""

    skeyid: bytes
    skeyid_d: bytes
    skeyid_a: bytes
    skeyid_e: bytes
    enc_key: bytes


def skeyid_psk(prf: PrfLike, psk: bytes, ni_b: bytes, nr_b: bytes) -> bytes:
    """RFC 2409 §5: for pre-shared keys SKEYID = prf(pre-shared-key, Ni_b | Nr_b)."""
    return prf.prf(psk, ni_b + nr_b)


def expand_enc_key(prf: PrfLike, skeyid_e: bytes, key_len: int) -> bytes:
    """RFC 2409 Appendix B: if SKEYID_e is too short, Ka = K1 | K2 | ... with
    K1 = prf(SKEYID_e, 0) and Kn = prf(SKEYID_e, Kn-1); "0" is a single zero octet."""
    if len(skeyid_e) >= key_len:
        return skeyid_e[:key_len]
    out = b""
    k = prf.prf(skeyid_e, b"\x00")
    out += k
    while len(out) < key_len:
        k = prf.prf(skeyid_e, k)
        out += k
    return out[:key_len]


def phase1_keys(
    prf: PrfLike, skeyid: bytes, gxy: bytes, cky_i: bytes, cky_r: bytes, enc_key_len: int
) -> Phase1Keys:
    """RFC 2409 §5: SKEYID_d, SKEYID_a, SKEYID_e (0/1/2 are single octets)."""
    d = prf.prf(skeyid, gxy + cky_i + cky_r + b"\x00")
    a = prf.prf(skeyid, d + gxy + cky_i + cky_r + b"\x01")
    e = prf.prf(skeyid, a + gxy + cky_i + cky_r + b"\x02")
    return Phase1Keys(skeyid, d, a, e, expand_enc_key(prf, e, enc_key_len))


def hash_i(
    prf: PrfLike,
    skeyid: bytes,
    gxi: bytes,
    gxr: bytes,
    cky_i: bytes,
    cky_r: bytes,
    sai_b: bytes,
    idii_b: bytes,
) -> bytes:
    """RFC 2409 §5: HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)."""
    return prf.prf(skeyid, gxi + gxr + cky_i + cky_r + sai_b + idii_b)


def hash_r(
    prf: PrfLike,
    skeyid: bytes,
    gxi: bytes,
    gxr: bytes,
    cky_i: bytes,
    cky_r: bytes,
    sai_b: bytes,
    idir_b: bytes,
) -> bytes:
    """RFC 2409 §5: HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)."""
    return prf.prf(skeyid, gxr + gxi + cky_r + cky_i + sai_b + idir_b)


def phase1_iv(prf: PrfLike, gxi: bytes, gxr: bytes, block_size: int) -> bytes:
    """RFC 2409 Appendix B: Phase 1 IV = hash(g^xi | g^xr), truncated to the block size."""
    return prf.hash(gxi + gxr)[:block_size]


def phase2_iv(prf: PrfLike, last_phase1_block: bytes, message_id: int, block_size: int) -> bytes:
    """RFC 2409 Appendix B: Quick Mode / Informational IV =
    hash(last Phase 1 CBC output block | M-ID), truncated to the block size."""
    return prf.hash(last_phase1_block + struct.pack("!I", message_id))[:block_size]


def qm_hash1(prf: PrfLike, skeyid_a: bytes, message_id: int, rest: bytes) -> bytes:
    """RFC 2409 §5.5: HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] [| IDci | IDcr]).
    Also the Informational HASH (§5.7: prf(SKEYID_a, M-ID | N/D))."""
    return prf.prf(skeyid_a, struct.pack("!I", message_id) + rest)


def qm_hash2(prf: PrfLike, skeyid_a: bytes, message_id: int, ni_b: bytes, rest: bytes) -> bytes:
    """RFC 2409 §5.5: HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE] [| IDci | IDcr])."""
    return prf.prf(skeyid_a, struct.pack("!I", message_id) + ni_b + rest)


def qm_hash3(prf: PrfLike, skeyid_a: bytes, message_id: int, ni_b: bytes, nr_b: bytes) -> bytes:
    """RFC 2409 §5.5: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)."""
    return prf.prf(skeyid_a, b"\x00" + struct.pack("!I", message_id) + ni_b + nr_b)


def keymat(
    prf: PrfLike,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    ni_b: bytes,
    nr_b: bytes,
    length: int,
    gxy_qm: bytes = b"",
) -> bytes:
    """RFC 2409 §5.5 KEYMAT for one SA (``spi`` is that SA's SPI, chosen by its receiver).

    Without PFS: KEYMAT = prf(SKEYID_d, protocol | SPI | Ni_b | Nr_b);
    with PFS:    KEYMAT = prf(SKEYID_d, g(qm)^xy | protocol | SPI | Ni_b | Nr_b).
    Expansion:   K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
                 Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b).
    """
    seed = gxy_qm + bytes([protocol]) + spi + ni_b + nr_b
    k = prf.prf(skeyid_d, seed)
    out = k
    while len(out) < length:
        k = prf.prf(skeyid_d, k + seed)
        out += k
    return out[:length]
