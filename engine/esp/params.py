"""SA parameters and per-SA counters shared by ESP and AH."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields

from engine.crypto.algorithms import CIPHERS, INTEGRITY
from engine.esp.errors import SaConfigError
from engine.esp.replay import MAX_WINDOW

MODES = ("tunnel", "transport")
PROTOS = ("esp", "ah")
DF_POLICIES = ("copy", "set", "clear")


@dataclass
class SaParams:
    """Everything needed to build one unidirectional ESP or AH SA.

    Attributes:
        spi: Security Parameters Index (1..2^32-1; RFC 4303 §2.1 reserves 0).
        proto: ``esp`` or ``ah``.
        mode: ``tunnel`` or ``transport``.
        encr: cipher name from ``engine.crypto.algorithms.CIPHERS`` (``null`` for AH).
        encr_key: cipher key (for GCM including the 4-byte salt).
        integ: integrity name from ``INTEGRITY`` (``null`` with an AEAD cipher).
        integ_key: integrity key.
        local: our tunnel endpoint address (outbound: outer source).
        remote: the peer's tunnel endpoint address (outbound: outer destination).
        udp_encap: RFC 3948 UDP ports ``(our port, peer port)`` or None.
        replay_window: anti-replay window in packets; 0 disables the check.
        df: outer IPv4 DF bit in tunnel mode: ``copy`` from inner, ``set``, ``clear``.
        ttl: outer TTL / hop limit in tunnel mode.
    """

    spi: int
    proto: str = "esp"
    mode: str = "tunnel"
    encr: str = "null"
    encr_key: bytes = b""
    integ: str = "null"
    integ_key: bytes = b""
    local: str = "0.0.0.0"
    remote: str = "0.0.0.0"
    udp_encap: tuple[int, int] | None = None
    replay_window: int = 64
    df: str = "copy"
    ttl: int = 64

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise SaConfigError naming the first inconsistent field."""
        sa = f"SA 0x{self.spi:08X}" if isinstance(self.spi, int) and self.spi >= 0 else "SA"
        if not isinstance(self.spi, int) or not 0 < self.spi <= 0xFFFFFFFF:
            raise SaConfigError(f"{sa}: spi {self.spi!r} must be 1..0xFFFFFFFF")
        if self.proto not in PROTOS:
            raise SaConfigError(f"{sa}: proto {self.proto!r} not in {PROTOS}")
        if self.mode not in MODES:
            raise SaConfigError(f"{sa}: mode {self.mode!r} not in {MODES}")
        if self.df not in DF_POLICIES:
            raise SaConfigError(f"{sa}: df {self.df!r} not in {DF_POLICIES}")
        if self.encr not in CIPHERS:
            raise SaConfigError(f"{sa}: unknown cipher {self.encr!r}; known {sorted(CIPHERS)}")
        if self.integ not in INTEGRITY:
            raise SaConfigError(
                f"{sa}: unknown integrity {self.integ!r}; known {sorted(INTEGRITY)}"
            )
        cipher, integ = CIPHERS[self.encr], INTEGRITY[self.integ]
        if len(self.encr_key) != cipher.key_len:
            raise SaConfigError(
                f"{sa}: {self.encr} key is {len(self.encr_key)} bytes, need {cipher.key_len}"
            )
        if len(self.integ_key) != integ.key_len:
            raise SaConfigError(
                f"{sa}: {self.integ} key is {len(self.integ_key)} bytes, need {integ.key_len}"
            )
        if self.proto == "ah":
            if self.encr != "null" or self.integ == "null":
                raise SaConfigError(f"{sa}: AH needs an integrity algorithm and no cipher")
            if self.udp_encap is not None:
                raise SaConfigError(f"{sa}: AH cannot be UDP-encapsulated (RFC 3948 §1)")
        elif self.encr == "null" and self.integ == "null":
            raise SaConfigError(f"{sa}: ESP with NULL cipher needs integrity (RFC 4303 §3.2)")
        elif cipher.aead and self.integ != "null":
            raise SaConfigError(f"{sa}: AEAD cipher {self.encr} takes no separate integrity")
        w = self.replay_window
        if not isinstance(w, int) or w < 0 or w > MAX_WINDOW or (w and w % 32):
            raise SaConfigError(
                f"{sa}: replay window {w!r} must be 0 (off) or a multiple of 32 up to {MAX_WINDOW}"
            )
        if not 1 <= self.ttl <= 255:
            raise SaConfigError(f"{sa}: ttl {self.ttl} out of range 1..255")
        try:
            loc, rem = ipaddress.ip_address(self.local), ipaddress.ip_address(self.remote)
        except ValueError as e:
            raise SaConfigError(f"{sa}: {e}") from None
        if loc.version != rem.version:
            raise SaConfigError(
                f"{sa}: local {self.local} and remote {self.remote} differ in family"
            )
        if self.udp_encap is not None:
            if len(self.udp_encap) != 2 or not all(0 < p < 65536 for p in self.udp_encap):
                raise SaConfigError(f"{sa}: udp_encap {self.udp_encap!r} must be two ports")

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.local).version

    def export(self, direction: str) -> dict:
        """Key export entry (CONTRACTS.md ``lab keys``) for direction ``in`` or ``out``."""
        src, dst = (self.local, self.remote) if direction == "out" else (self.remote, self.local)
        return {
            "spi": self.spi,
            "proto": self.proto,
            "direction": direction,
            "src": src,
            "dst": dst,
            "encr": self.encr,
            "encr_key": self.encr_key.hex(),
            "integ": self.integ,
            "integ_key": self.integ_key.hex(),
            "udp_encap": list(self.udp_encap) if self.udp_encap else None,
            "mode": self.mode,
        }

    @classmethod
    def from_export(cls, entry: dict, replay_window: int = 0) -> "SaParams":
        """Inverse of export (for decrypting captures with exported keys)."""
        out = entry["direction"] == "out"
        local, remote = (entry["src"], entry["dst"]) if out else (entry["dst"], entry["src"])
        encap = entry.get("udp_encap")
        return cls(
            spi=entry["spi"],
            proto=entry["proto"],
            mode=entry["mode"],
            encr=entry.get("encr") or "null",
            encr_key=bytes.fromhex(entry.get("encr_key") or ""),
            integ=entry.get("integ") or "null",
            integ_key=bytes.fromhex(entry.get("integ_key") or ""),
            local=local,
            remote=remote,
            udp_encap=tuple(encap) if encap else None,
            replay_window=replay_window,
        )


@dataclass
class SaCounters:
    """Per-SA counters, named after IOS ``show crypto ipsec sa [detail]`` fields.

    Outbound SAs use the ``encaps``/``encrypt``/``digest``/``send_errors`` side,
    inbound SAs the ``decaps``/``decrypt``/``verify``/``recv_errors`` side.
    ``bytes_out``/``bytes_in`` count inner (plaintext) bytes for kilobyte lifetimes.
    """

    encaps: int = 0
    encrypt: int = 0
    digest: int = 0
    decaps: int = 0
    decrypt: int = 0
    verify: int = 0
    send_errors: int = 0
    recv_errors: int = 0
    replay_failures: int = 0
    auth_failures: int = 0
    invalid_len: int = 0
    bytes_out: int = 0
    bytes_in: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
