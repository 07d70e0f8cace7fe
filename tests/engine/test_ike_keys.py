"""IKEv1 key derivation (engine/ike/keys.py) against a second, hand-written
implementation that uses only hashlib/hmac, written from RFC 2409 §5, §5.5 and
Appendix B.  The strongSwan interop test (test_ike_strongswan.py) checks the
Quick Mode KEYMAT against charon's own derivation as well."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from engine.crypto import algorithms as alg
from engine.ike import keys

NI = bytes.fromhex("6b1a0b0d8f1d2e3c4b5a69788796a5b4c3d2e1f0")
NR = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778")
GXY = bytes(range(256)) * 1  # 256-byte "shared secret" (MODP 2048 length)
CKY_I, CKY_R = bytes.fromhex("1122334455667788"), bytes.fromhex("99aabbccddeeff00")
PSK = b"cisco123"


def _h(name: str, key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(parts), getattr(hashlib, name)).digest()


@pytest.mark.parametrize("prf_name", ["md5", "sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("cipher_name", ["des", "3des", "aes128", "aes192", "aes256"])
def test_phase1_chain(prf_name, cipher_name):
    prf, cipher = alg.prf(prf_name), alg.cipher(cipher_name)
    skeyid = keys.skeyid_psk(prf, PSK, NI, NR)
    k = keys.phase1_keys(prf, skeyid, GXY, CKY_I, CKY_R, cipher.key_len)
    # Independent computation, RFC 2409 §5.
    s = _h(prf_name, PSK, NI, NR)
    d = _h(prf_name, s, GXY, CKY_I, CKY_R, b"\x00")
    a = _h(prf_name, s, d, GXY, CKY_I, CKY_R, b"\x01")
    e = _h(prf_name, s, a, GXY, CKY_I, CKY_R, b"\x02")
    assert (k.skeyid, k.skeyid_d, k.skeyid_a, k.skeyid_e) == (s, d, a, e)
    # Appendix B: expand SKEYID_e when it is shorter than the key.
    if len(e) >= cipher.key_len:
        enc = e[: cipher.key_len]
    else:
        k1 = _h(prf_name, e, b"\x00")
        k2 = _h(prf_name, e, k1)
        k3 = _h(prf_name, e, k2)
        enc = (k1 + k2 + k3)[: cipher.key_len]
    assert k.enc_key == enc and len(enc) == cipher.key_len


def test_expansion_is_used_for_aes256_with_sha1():
    prf = alg.prf("sha1")
    e = b"\x42" * 20
    out = keys.expand_enc_key(prf, e, 32)
    assert out != (e + e)[:32] and out[:20] == _h("sha1", e, b"\x00")


def test_hashes_and_ivs():
    prf = alg.prf("sha1")
    gxi, gxr = b"\x01" * 128, b"\x02" * 128
    sai_b, idii_b = b"SA-body", bytes([1, 17, 1, 244, 10, 0, 0, 1])
    skeyid = b"k" * 20
    assert keys.hash_i(prf, skeyid, gxi, gxr, CKY_I, CKY_R, sai_b, idii_b) == _h(
        "sha1", skeyid, gxi, gxr, CKY_I, CKY_R, sai_b, idii_b
    )
    # HASH_R swaps the DH values and the cookies (RFC 2409 §5).
    assert keys.hash_r(prf, skeyid, gxi, gxr, CKY_I, CKY_R, sai_b, idii_b) == _h(
        "sha1", skeyid, gxr, gxi, CKY_R, CKY_I, sai_b, idii_b
    )
    assert keys.phase1_iv(prf, gxi, gxr, 16) == hashlib.sha1(gxi + gxr).digest()[:16]
    last = b"\x0b" * 16
    assert (
        keys.phase2_iv(prf, last, 0x01020304, 16)
        == hashlib.sha1(last + b"\x01\x02\x03\x04").digest()[:16]
    )


def test_quick_mode_hashes():
    prf, ka, mid = alg.prf("md5"), b"a" * 16, 0xDEADBEEF
    m = struct.pack("!I", mid)
    assert keys.qm_hash1(prf, ka, mid, b"rest") == _h("md5", ka, m, b"rest")
    assert keys.qm_hash2(prf, ka, mid, NI, b"rest") == _h("md5", ka, m, NI, b"rest")
    assert keys.qm_hash3(prf, ka, mid, NI, NR) == _h("md5", ka, b"\x00", m, NI, NR)


@pytest.mark.parametrize("pfs", [b"", b"\x07" * 128])
@pytest.mark.parametrize("length", [16 + 20, 32 + 32, 24 + 16, 64 + 64])
def test_keymat(pfs, length):
    prf, kd, spi = alg.prf("sha1"), b"d" * 20, b"\x12\x34\x56\x78"
    got = keys.keymat(prf, kd, 3, spi, NI, NR, length, pfs)
    seed = pfs + b"\x03" + spi + NI + NR
    k = _h("sha1", kd, seed)
    out = k
    while len(out) < length:  # RFC 2409 §5.5: Kn = prf(SKEYID_d, Kn-1 | seed)
        k = _h("sha1", kd, k, seed)
        out += k
    assert got == out[:length]
