"""One algorithm table for IKEv1, ESP and AH.

Names used everywhere in the engine (config model, key export, show output):

* ciphers: ``des``, ``3des``, ``aes128``, ``aes192``, ``aes256``, ``null``,
  ``aes128gcm16``, ``aes192gcm16``, ``aes256gcm16`` (RFC 4106, 16-byte ICV)
* integrity: ``hmac-md5-96``, ``hmac-sha1-96``, ``hmac-sha256-128``,
  ``hmac-sha384-192``, ``hmac-sha512-256``, ``null``
* prf/hash: ``md5``, ``sha1``, ``sha256``, ``sha384``, ``sha512`` (HMAC)

Lookup tables map IKEv1 attribute values (RFC 2409 App. A), IPsec DOI
transform IDs (RFC 2407 §4.4.4, §4.4.3) and IOS transform names to these names.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from dataclasses import dataclass, field
from typing import Callable

from cryptography.hazmat.primitives.ciphers import Cipher as _CCipher
from cryptography.hazmat.primitives.ciphers import algorithms as _alg
from cryptography.hazmat.primitives.ciphers import modes as _modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

try:  # cryptography >= 43 keeps (3)DES here
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
except ImportError:  # pragma: no cover - older cryptography
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _TripleDES = _alg.TripleDES  # type: ignore[attr-defined,misc]

try:
    import _hashlib
except ImportError:  # pragma: no cover - Python built without OpenSSL
    _hashlib = None


class CryptoError(ValueError):
    """Bad key/IV/data length or failed AEAD authentication."""


class UnknownAlgorithm(KeyError):
    """An algorithm name, transform ID or IOS transform that the table lacks."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown algorithm"


# --------------------------------------------------------------------------- ciphers


def _des_key(key: bytes) -> bytes:
    # Single DES = 3DES-EDE with K1 = K2 = K3 (the decrypt step cancels the first encrypt).
    return key * 3


def block_algorithm(name: str, key: bytes) -> object:
    """The cryptography block-cipher object for a CBC cipher name (key schedule once)."""
    if name == "des":
        return _TripleDES(_des_key(key))
    if name == "3des":
        return _TripleDES(key)
    return _alg.AES(key)


@dataclass(frozen=True)
class Cipher:
    """An encryption transform (ESP or IKE).

    Attributes:
        name: table name, e.g. ``aes128``.
        key_len: key length in bytes (for GCM: AES key + 4-byte salt, RFC 4106 §8.1).
        block_size: cipher block size in bytes; 1 for null and GCM (ESP pads to 4).
        iv_len: explicit IV length carried in the packet.
        aead: True for combined-mode ciphers (GCM).
        icv_len: AEAD tag length (0 for non-AEAD).
        kind: ``cbc``, ``gcm`` or ``null``.
    """

    name: str
    key_len: int
    block_size: int
    iv_len: int
    aead: bool
    icv_len: int = 0
    kind: str = "cbc"

    def _check(self, key: bytes, iv: bytes) -> None:
        if len(key) != self.key_len:
            raise CryptoError(f"{self.name}: key is {len(key)} bytes, need {self.key_len}")
        if len(iv) != self.iv_len:
            raise CryptoError(f"{self.name}: IV is {len(iv)} bytes, need {self.iv_len}")

    def encrypt(self, key: bytes, iv: bytes, data: bytes, aad: bytes = b"") -> bytes:
        """Encrypt; CBC data must be block aligned. GCM returns ciphertext || tag."""
        self._check(key, iv)
        if self.kind == "null":
            return bytes(data)
        if self.kind == "gcm":
            # RFC 4106 §4: nonce = salt (last 4 key bytes) || explicit IV.
            return AESGCM(key[:-4]).encrypt(key[-4:] + iv, data, aad or None)
        if len(data) % self.block_size:
            raise CryptoError(f"{self.name}: data length {len(data)} not block aligned")
        enc = _CCipher(block_algorithm(self.name, key), _modes.CBC(iv)).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, key: bytes, iv: bytes, data: bytes, aad: bytes = b"") -> bytes:
        """Decrypt; GCM input is ciphertext || tag and raises CryptoError on a bad tag."""
        self._check(key, iv)
        if self.kind == "null":
            return bytes(data)
        if self.kind == "gcm":
            from cryptography.exceptions import InvalidTag

            try:
                return AESGCM(key[:-4]).decrypt(key[-4:] + iv, data, aad or None)
            except InvalidTag:
                raise CryptoError(f"{self.name}: authentication tag mismatch") from None
        if len(data) % self.block_size:
            raise CryptoError(f"{self.name}: data length {len(data)} not block aligned")
        dec = _CCipher(block_algorithm(self.name, key), _modes.CBC(iv)).decryptor()
        return dec.update(data) + dec.finalize()

    def cbc_context(self, key: bytes) -> Callable[[bytes], object]:
        """Return ``iv -> cryptography Cipher`` with the key schedule prepared once."""
        algo = block_algorithm(self.name, key)
        return lambda iv: _CCipher(algo, _modes.CBC(iv))


CIPHERS: dict[str, Cipher] = {
    c.name: c
    for c in (
        Cipher("des", 8, 8, 8, False),
        Cipher("3des", 24, 8, 8, False),
        Cipher("aes128", 16, 16, 16, False),
        Cipher("aes192", 24, 16, 16, False),
        Cipher("aes256", 32, 16, 16, False),
        Cipher("null", 0, 1, 0, False, kind="null"),
        Cipher("aes128gcm16", 20, 1, 8, True, 16, "gcm"),
        Cipher("aes192gcm16", 28, 1, 8, True, 16, "gcm"),
        Cipher("aes256gcm16", 36, 1, 8, True, 16, "gcm"),
    )
}


# ------------------------------------------------------------------------- integrity


@dataclass(frozen=True)
class Integrity:
    """An ESP/AH integrity transform: HMAC truncated to ``icv_len`` (RFC 2404, 4868)."""

    name: str
    key_len: int
    icv_len: int
    digest: str = ""  # hashlib name; "" for null

    def icv(self, key: bytes, data: bytes) -> bytes:
        """Truncated HMAC of data (any key length, as HMAC allows; ESP checks lengths)."""
        if not self.digest:
            return b""
        return hmac.digest(key, data, self.digest)[: self.icv_len]

    def template(self, key: bytes):  # -> an HMAC object with copy()/update()/digest()
        """A pre-keyed HMAC state: ``t.copy()`` then ``update`` per packet (RFC 2104)."""
        if not self.digest:
            raise CryptoError("null integrity has no HMAC state")
        if len(key) != self.key_len:
            raise CryptoError(f"{self.name}: key is {len(key)} bytes, need {self.key_len}")
        if _hashlib is not None:
            return _hashlib.hmac_new(key, digestmod=self.digest)
        return hmac.new(key, digestmod=self.digest)

    def keyed(self, key: bytes) -> Callable[[bytes], bytes]:
        """Fast ``data -> icv`` closure that reuses a pre-keyed HMAC state."""
        if not self.digest:
            return lambda data: b""
        if len(key) != self.key_len:
            raise CryptoError(f"{self.name}: key is {len(key)} bytes, need {self.key_len}")
        # OpenSSL's HMAC object straight from _hashlib when present (about 20% faster
        # per packet than hmac.HMAC.copy()); the public hmac module otherwise.
        template = self.template(key)
        n = self.icv_len

        def icv(data: bytes) -> bytes:
            h = template.copy()
            h.update(data)
            return h.digest()[:n]

        return icv


INTEGRITY: dict[str, Integrity] = {
    i.name: i
    for i in (
        Integrity("hmac-md5-96", 16, 12, "md5"),  # RFC 2403
        Integrity("hmac-sha1-96", 20, 12, "sha1"),  # RFC 2404
        Integrity("hmac-sha256-128", 32, 16, "sha256"),  # RFC 4868 §2.1
        Integrity("hmac-sha384-192", 48, 24, "sha384"),
        Integrity("hmac-sha512-256", 64, 32, "sha512"),
        Integrity("null", 0, 0, ""),
    )
}


# ------------------------------------------------------------------------------ prf


@dataclass(frozen=True)
class Prf:
    """IKEv1 hash algorithm and its HMAC prf (RFC 2409 §4)."""

    name: str
    digest_len: int
    block_size: int = field(default=64)

    def hash(self, data: bytes) -> bytes:
        return hashlib.new(self.name, data).digest()

    def prf(self, key: bytes, data: bytes) -> bytes:
        return hmac.digest(key, data, self.name)


PRFS: dict[str, Prf] = {
    p.name: p
    for p in (
        Prf("md5", 16),
        Prf("sha1", 20),
        Prf("sha256", 32),
        Prf("sha384", 48, 128),
        Prf("sha512", 64, 128),
    )
}


# ------------------------------------------------------------- IKEv1 Phase 1 values
# RFC 2409 Appendix A; SHA2 values from the IANA "IPSEC Attributes" registry.
# https://www.iana.org/assignments/ipsec-registry

IKE_ENCR_IDS: dict[int, str] = {1: "des", 5: "3des", 7: "aes"}
IKE_HASH_IDS: dict[int, str] = {1: "md5", 2: "sha1", 4: "sha256", 5: "sha384", 6: "sha512"}
IKE_HASH_NUMBERS: dict[str, int] = {v: k for k, v in IKE_HASH_IDS.items()}
AES_DEFAULT_KEY_BITS = 128


def _aes_name(key_bits: int | None, gcm: bool = False) -> str:
    bits = AES_DEFAULT_KEY_BITS if key_bits is None else key_bits
    if bits not in (128, 192, 256):
        raise UnknownAlgorithm(f"AES key length {bits} bits is not 128, 192 or 256")
    return f"aes{bits}gcm16" if gcm else f"aes{bits}"


def ike_cipher(encr_id: int, key_bits: int | None = None) -> str:
    """Encryption Algorithm attribute (+ Key Length attribute) -> cipher name."""
    base = IKE_ENCR_IDS.get(encr_id)
    if base is None:
        raise UnknownAlgorithm(f"IKE encryption algorithm {encr_id} not supported")
    return _aes_name(key_bits) if base == "aes" else base


def ike_cipher_attrs(name: str) -> tuple[int, int | None]:
    """Cipher name -> (Encryption Algorithm value, Key Length bits or None)."""
    if name in ("des", "3des"):
        return (1 if name == "des" else 5), None
    if name in ("aes128", "aes192", "aes256"):
        return 7, int(name[3:])
    raise UnknownAlgorithm(f"cipher {name!r} has no IKEv1 encryption algorithm value")


def ike_prf(hash_id: int) -> str:
    """Hash Algorithm attribute -> prf name."""
    try:
        return IKE_HASH_IDS[hash_id]
    except KeyError:
        raise UnknownAlgorithm(f"IKE hash algorithm {hash_id} not supported") from None


# ------------------------------------------------------- IPsec DOI (RFC 2407 §4.4.4)

ESP_TRANSFORM_IDS: dict[int, str] = {
    2: "des",  # ESP_DES
    3: "3des",  # ESP_3DES
    11: "null",  # ESP_NULL
    12: "aes",  # ESP_AES (RFC 3602 §5.1), Key Length attribute
    20: "aesgcm16",  # ESP_AES-GCM with 16-octet ICV (RFC 4106 §8.1)
}
ESP_TRANSFORM_NUMBERS: dict[str, int] = {v: k for k, v in ESP_TRANSFORM_IDS.items()}

# RFC 2407 §4.4.3 AH transform IDs; SHA2 per RFC 4868 §4 / IANA.
AH_TRANSFORM_IDS: dict[int, str] = {
    2: "hmac-md5-96",  # AH_MD5
    3: "hmac-sha1-96",  # AH_SHA
    5: "hmac-sha256-128",  # AH_SHA2-256
    6: "hmac-sha384-192",  # AH_SHA2-384
    7: "hmac-sha512-256",  # AH_SHA2-512
}
AH_TRANSFORM_NUMBERS: dict[str, int] = {v: k for k, v in AH_TRANSFORM_IDS.items()}

# RFC 2407 §4.5 "Authentication Algorithm" SA attribute (class 5).
AUTH_ALG_IDS: dict[int, str] = {
    1: "hmac-md5-96",
    2: "hmac-sha1-96",
    5: "hmac-sha256-128",
    6: "hmac-sha384-192",
    7: "hmac-sha512-256",
}
AUTH_ALG_NUMBERS: dict[str, int] = {v: k for k, v in AUTH_ALG_IDS.items()}


def esp_cipher(transform_id: int, key_bits: int | None = None) -> str:
    """ESP transform ID (+ Key Length attribute) -> cipher name."""
    base = ESP_TRANSFORM_IDS.get(transform_id)
    if base is None:
        raise UnknownAlgorithm(f"ESP transform ID {transform_id} not supported")
    if base == "aes":
        return _aes_name(key_bits)
    if base == "aesgcm16":
        return _aes_name(key_bits, gcm=True)
    return base


def esp_transform_attrs(name: str) -> tuple[int, int | None]:
    """Cipher name -> (ESP transform ID, Key Length bits or None)."""
    if name in ("des", "3des", "null"):
        return ESP_TRANSFORM_NUMBERS[name], None
    if name in ("aes128", "aes192", "aes256"):
        return 12, int(name[3:])
    if name.endswith("gcm16") and name.startswith("aes"):
        return 20, int(name[3:6])
    raise UnknownAlgorithm(f"cipher {name!r} has no ESP transform ID")


def auth_alg(value: int) -> str:
    """Authentication Algorithm attribute -> integrity name."""
    try:
        return AUTH_ALG_IDS[value]
    except KeyError:
        raise UnknownAlgorithm(f"authentication algorithm {value} not supported") from None


def ah_integrity(transform_id: int) -> str:
    """AH transform ID -> integrity name."""
    try:
        return AH_TRANSFORM_IDS[transform_id]
    except KeyError:
        raise UnknownAlgorithm(f"AH transform ID {transform_id} not supported") from None


# ------------------------------------------------------------ IOS transform names


@dataclass(frozen=True)
class IosTransform:
    """One element of an IOS ``crypto ipsec transform-set``."""

    keyword: str  # e.g. "esp-aes"
    proto: str  # "esp" | "ah"
    kind: str  # "encr" | "integ"
    algorithm: str  # table name
    key_bits: int | None = None


IOS_TRANSFORMS: dict[str, tuple[str, str, str]] = {
    # keyword: (proto, kind, algorithm name; key-length-dependent ones use {bits})
    "esp-des": ("esp", "encr", "des"),
    "esp-3des": ("esp", "encr", "3des"),
    "esp-aes": ("esp", "encr", "aes{bits}"),
    "esp-gcm": ("esp", "encr", "aes{bits}gcm16"),
    "esp-null": ("esp", "encr", "null"),
    "esp-md5-hmac": ("esp", "integ", "hmac-md5-96"),
    "esp-sha-hmac": ("esp", "integ", "hmac-sha1-96"),
    "esp-sha256-hmac": ("esp", "integ", "hmac-sha256-128"),
    "esp-sha384-hmac": ("esp", "integ", "hmac-sha384-192"),
    "esp-sha512-hmac": ("esp", "integ", "hmac-sha512-256"),
    "ah-md5-hmac": ("ah", "integ", "hmac-md5-96"),
    "ah-sha-hmac": ("ah", "integ", "hmac-sha1-96"),
    "ah-sha256-hmac": ("ah", "integ", "hmac-sha256-128"),
    "ah-sha384-hmac": ("ah", "integ", "hmac-sha384-192"),
    "ah-sha512-hmac": ("ah", "integ", "hmac-sha512-256"),
}
IOS_KEY_BITS_ALLOWED: dict[str, tuple[int, ...]] = {
    "esp-aes": (128, 192, 256),
    "esp-gcm": (128, 192, 256),
}


def ios_transform(keyword: str, key_bits: int | None = None) -> IosTransform:
    """IOS transform keyword (+ optional key size, as in ``esp-aes 256``) -> IosTransform.

    Raises:
        UnknownAlgorithm: unknown keyword or a key size the keyword does not take.
    """
    kw = keyword.lower()
    entry = IOS_TRANSFORMS.get(kw)
    if entry is None:
        raise UnknownAlgorithm(f"unknown IOS transform {keyword!r}")
    proto, kind, algo = entry
    allowed = IOS_KEY_BITS_ALLOWED.get(kw)
    if allowed is None:
        if key_bits is not None:
            raise UnknownAlgorithm(f"IOS transform {keyword!r} takes no key size")
        return IosTransform(kw, proto, kind, algo)
    bits = AES_DEFAULT_KEY_BITS if key_bits is None else key_bits
    if bits not in allowed:
        raise UnknownAlgorithm(f"IOS transform {keyword!r}: key size {bits} not in {allowed}")
    return IosTransform(kw, proto, kind, algo.format(bits=bits), bits)


def ios_transform_keyword(algorithm: str, proto: str = "esp") -> str:
    """Table name -> IOS keyword text as ``show crypto ipsec sa`` prints it (``esp-256-aes``
    style is not used; we print the configuration form, e.g. ``esp-aes 256``)."""
    for kw, (p, _kind, algo) in IOS_TRANSFORMS.items():
        if p != proto:
            continue
        if "{bits}" in algo:
            for bits in IOS_KEY_BITS_ALLOWED[kw]:
                if algo.format(bits=bits) == algorithm:
                    return kw if bits == AES_DEFAULT_KEY_BITS else f"{kw} {bits}"
        elif algo == algorithm:
            return kw
    raise UnknownAlgorithm(f"no IOS {proto} transform for {algorithm!r}")


# ------------------------------------------------------- Allied Telesis AR names
# seed 002 (spec/seed002-b-ar-commands.md): CREATE IPSEC SASPECIFICATION ENCALG/HASHALG
# and CREATE ISAKMP POLICY ENCALG/HASHALG. 3DESOUTER is standard outer-CBC 3DES-EDE.

AR_ENCALG: dict[str, str] = {
    "DES": "des",
    "3DESOUTER": "3des",
    "AES128": "aes128",
    "AES192": "aes192",
    "AES256": "aes256",
    "NULL": "null",
}
AR_HASHALG_IPSEC: dict[str, str] = {"MD5": "hmac-md5-96", "SHA": "hmac-sha1-96", "NULL": "null"}
AR_HASHALG_ISAKMP: dict[str, str] = {"MD5": "md5", "SHA": "sha1"}


def ar_algorithm(table: dict[str, str], value: str, what: str = "ENCALG") -> str:
    """AR keyword (case-insensitive) -> table name, with the valid choices in the error."""
    try:
        return table[value.upper()]
    except KeyError:
        raise UnknownAlgorithm(f"{what}={value} not one of {'|'.join(table)}") from None


def cipher(name: str) -> Cipher:
    """Lookup with a clear error."""
    try:
        return CIPHERS[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown cipher {name!r}; known: {sorted(CIPHERS)}") from None


def integrity(name: str) -> Integrity:
    """Lookup with a clear error."""
    try:
        return INTEGRITY[name]
    except KeyError:
        raise UnknownAlgorithm(
            f"unknown integrity algorithm {name!r}; known: {sorted(INTEGRITY)}"
        ) from None


def prf(name: str) -> Prf:
    """Lookup with a clear error."""
    try:
        return PRFS[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown prf {name!r}; known: {sorted(PRFS)}") from None
