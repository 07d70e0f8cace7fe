"""Crypto primitives for IKEv1, ESP and AH: algorithm table and MODP Diffie-Hellman."""

from engine.crypto.algorithms import (
    CIPHERS,
    INTEGRITY,
    PRFS,
    Cipher,
    CryptoError,
    Integrity,
    Prf,
    UnknownAlgorithm,
)

__all__ = [
    "CIPHERS",
    "INTEGRITY",
    "PRFS",
    "Cipher",
    "CryptoError",
    "Integrity",
    "Prf",
    "UnknownAlgorithm",
]
