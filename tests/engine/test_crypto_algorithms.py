"""Known-answer tests for engine/crypto/algorithms.py (vectors in tests/vectors/)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.crypto.algorithms import (
    CIPHERS,
    INTEGRITY,
    PRFS,
    CryptoError,
    UnknownAlgorithm,
    ah_integrity,
    auth_alg,
    esp_cipher,
    esp_transform_attrs,
    ike_cipher,
    ike_cipher_attrs,
    ike_prf,
    ios_transform,
    ios_transform_keyword,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _field(case: dict, name: str) -> bytes:
    if f"{name}_ascii" in case:
        return case[f"{name}_ascii"].encode()
    return bytes.fromhex(case[name])


@pytest.mark.parametrize(
    "case", _load("rfc3602_aes_cbc.json")["cipher_cases"], ids=lambda c: f"case{c['case']}"
)
def test_rfc3602_aes_cbc(case: dict) -> None:
    aes = CIPHERS["aes128"]
    key, iv = bytes.fromhex(case["key"]), bytes.fromhex(case["iv"])
    pt, ct = _field(case, "plaintext"), bytes.fromhex(case["ciphertext"])
    assert aes.encrypt(key, iv, pt) == ct
    assert aes.decrypt(key, iv, ct) == pt
    ctx = aes.cbc_context(key)
    assert ctx(iv).encryptor().update(pt) == ct


def test_des_fips81_cbc() -> None:
    # FIPS 81 Appendix C, CBC example: key 0123456789abcdef, IV 1234567890abcdef.
    des = CIPHERS["des"]
    key, iv = bytes.fromhex("0123456789abcdef"), bytes.fromhex("1234567890abcdef")
    pt = b"Now is the time for all "
    ct = bytes.fromhex("e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6")
    assert des.encrypt(key, iv, pt) == ct
    assert des.decrypt(key, iv, ct) == pt


def test_3des_with_equal_keys_is_des() -> None:
    key, iv, pt = bytes.fromhex("0123456789abcdef"), bytes(8), os.urandom(32)
    assert CIPHERS["3des"].encrypt(key * 3, iv, pt) == CIPHERS["des"].encrypt(key, iv, pt)


@pytest.mark.parametrize(
    "case", _load("hmac.json")["cases"], ids=lambda c: f"{c['digest']}-{c['ref']}"
)
def test_hmac_vectors(case: dict) -> None:
    key, data = _field(case, "key"), _field(case, "data")
    prf = PRFS[case["digest"]]
    mac = prf.prf(key, data)
    if "mac" in case:
        assert mac.hex() == case["mac"]
    integ = {i.digest: i for i in INTEGRITY.values() if i.digest}[case["digest"]]
    if "mac_96" in case:
        assert integ.icv(key, data).hex() == case["mac_96"]
    if "mac_128" in case:
        assert mac[:16].hex() == case["mac_128"]
    assert integ.icv(key, data) == mac[: integ.icv_len]


def test_integrity_truncation_lengths() -> None:
    expect = {
        "hmac-md5-96": (16, 12),
        "hmac-sha1-96": (20, 12),
        "hmac-sha256-128": (32, 16),
        "hmac-sha384-192": (48, 24),
        "hmac-sha512-256": (64, 32),
        "null": (0, 0),
    }
    for name, (klen, icv) in expect.items():
        i = INTEGRITY[name]
        assert (i.key_len, i.icv_len) == (klen, icv)
        key = os.urandom(klen)
        assert len(i.icv(key, b"x")) == icv
        assert i.keyed(key)(b"abc") == i.icv(key, b"abc")


def test_keyed_integrity_rejects_wrong_key_length() -> None:
    with pytest.raises(CryptoError, match="hmac-sha1-96: key is 3 bytes"):
        INTEGRITY["hmac-sha1-96"].keyed(b"abc")


@pytest.mark.parametrize("case", _load("gcm.json")["cases"], ids=lambda c: c["ref"])
def test_gcm_rfc4106_construction(case: dict) -> None:
    gcm = CIPHERS["aes128gcm16"]
    key = bytes.fromhex(case["key"] + case["salt"])
    iv, aad = bytes.fromhex(case["iv"]), bytes.fromhex(case["aad"])
    pt = bytes.fromhex(case["plaintext"])
    out = gcm.encrypt(key, iv, pt, aad)
    assert out.hex() == case["ciphertext"] + case["tag"]
    assert gcm.decrypt(key, iv, out, aad) == pt
    bad = out[:-1] + bytes([out[-1] ^ 1])
    with pytest.raises(CryptoError, match="tag mismatch"):
        gcm.decrypt(key, iv, bad, aad)


@pytest.mark.parametrize("name", sorted(CIPHERS))
def test_cipher_roundtrip_and_length_checks(name: str) -> None:
    c = CIPHERS[name]
    key, iv = os.urandom(c.key_len), os.urandom(c.iv_len)
    data = os.urandom(64)
    assert c.decrypt(key, iv, c.encrypt(key, iv, data)) == data
    if c.key_len:
        with pytest.raises(CryptoError, match=f"{name}: key is"):
            c.encrypt(key[:-1], iv, data)
    if c.kind == "cbc":
        with pytest.raises(CryptoError, match="not block aligned"):
            c.encrypt(key, iv, data[:-1])


def test_prf_hash() -> None:
    assert PRFS["sha1"].hash(b"abc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert PRFS["md5"].digest_len == 16 and PRFS["sha512"].digest_len == 64


def test_ike_phase1_tables() -> None:
    # RFC 2409 Appendix A: 1 DES, 5 3DES, 7 AES-CBC (+ Key Length); hashes 1,2,4,5,6.
    assert ike_cipher(1) == "des" and ike_cipher(5) == "3des"
    assert ike_cipher(7) == "aes128" and ike_cipher(7, 256) == "aes256"
    assert ike_cipher_attrs("aes192") == (7, 192) and ike_cipher_attrs("3des") == (5, None)
    assert [ike_prf(i) for i in (1, 2, 4, 5, 6)] == ["md5", "sha1", "sha256", "sha384", "sha512"]
    with pytest.raises(UnknownAlgorithm, match="IKE encryption algorithm 3"):
        ike_cipher(3)
    with pytest.raises(UnknownAlgorithm, match="AES key length 100"):
        ike_cipher(7, 100)


def test_ipsec_doi_tables() -> None:
    # RFC 2407 §4.4.4 ESP transform IDs; §4.4.3 AH; §4.5 Authentication Algorithm.
    assert esp_cipher(2) == "des" and esp_cipher(3) == "3des" and esp_cipher(11) == "null"
    assert esp_cipher(12, 192) == "aes192" and esp_cipher(20, 256) == "aes256gcm16"
    assert esp_transform_attrs("aes128gcm16") == (20, 128)
    assert esp_transform_attrs("aes256") == (12, 256)
    assert [ah_integrity(i) for i in (2, 3, 5)] == [
        "hmac-md5-96",
        "hmac-sha1-96",
        "hmac-sha256-128",
    ]
    assert [auth_alg(i) for i in (1, 2, 5, 6, 7)] == [
        "hmac-md5-96",
        "hmac-sha1-96",
        "hmac-sha256-128",
        "hmac-sha384-192",
        "hmac-sha512-256",
    ]
    with pytest.raises(UnknownAlgorithm):
        esp_cipher(99)


def test_ios_transform_names() -> None:
    assert ios_transform("esp-aes").algorithm == "aes128"
    assert ios_transform("esp-aes", 256).algorithm == "aes256"
    assert ios_transform("esp-gcm", 256).algorithm == "aes256gcm16"
    assert ios_transform("esp-gcm").algorithm == "aes128gcm16"
    t = ios_transform("ah-md5-hmac")
    assert (t.proto, t.kind, t.algorithm) == ("ah", "integ", "hmac-md5-96")
    assert ios_transform("ESP-SHA-HMAC").algorithm == "hmac-sha1-96"
    assert ios_transform("esp-sha256-hmac").algorithm == "hmac-sha256-128"
    assert ios_transform("esp-null").algorithm == "null"
    assert ios_transform_keyword("aes256") == "esp-aes 256"
    assert ios_transform_keyword("aes128") == "esp-aes"
    assert ios_transform_keyword("hmac-md5-96", "ah") == "ah-md5-hmac"
    with pytest.raises(UnknownAlgorithm, match="takes no key size"):
        ios_transform("esp-des", 128)
    with pytest.raises(UnknownAlgorithm, match="unknown IOS transform 'esp-foo'"):
        ios_transform("esp-foo")


def test_ar_names() -> None:
    from engine.crypto.algorithms import (
        AR_ENCALG,
        AR_HASHALG_IPSEC,
        AR_HASHALG_ISAKMP,
        ar_algorithm,
    )

    assert ar_algorithm(AR_ENCALG, "3desouter") == "3des"
    assert ar_algorithm(AR_ENCALG, "AES256") == "aes256"
    assert ar_algorithm(AR_HASHALG_IPSEC, "SHA", "HASHALG") == "hmac-sha1-96"
    assert ar_algorithm(AR_HASHALG_ISAKMP, "md5", "HASHALG") == "md5"
    assert all(v in CIPHERS for v in AR_ENCALG.values())
    assert all(v in INTEGRITY for v in AR_HASHALG_IPSEC.values())
    with pytest.raises(UnknownAlgorithm, match="ENCALG=3DESINNER not one of DES|3DESOUTER"):
        ar_algorithm(AR_ENCALG, "3DESINNER")
