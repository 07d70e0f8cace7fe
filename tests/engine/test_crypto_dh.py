"""MODP groups: primes checked against their defining formula (RFC 2412 App. E,
RFC 3526 §1-7: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)),
primality and safe-prime property, key agreement and peer validation."""

from __future__ import annotations

import random

import pytest

from engine.crypto.dh import GROUPS, DhError, group

# offsets k from RFC 2409 §6.1/6.2 and RFC 3526
_K = {768: 149686, 1024: 129093, 1536: 741804, 2048: 124476, 3072: 1690314, 4096: 240904}


def _pi_fixed(bits: int) -> int:
    """floor(pi * 2^bits) with Machin's formula in integer arithmetic."""
    guard = bits + 64
    one = 1 << guard

    def arctan_inv(x: int) -> int:
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> 64


def _probably_prime(n: int, rounds: int = 8) -> bool:
    rng = random.Random(n & 0xFFFF)
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize("number", sorted(GROUPS))
def test_prime_matches_defining_formula(number: int) -> None:
    g = GROUPS[number]
    n = g.bits
    expect = 2**n - 2 ** (n - 64) - 1 + 2**64 * (_pi_fixed(n - 130) + _K[n])
    assert g.p == expect
    assert g.p.bit_length() == n and g.g == 2
    assert f"{g.p:x}".upper().startswith("FFFFFFFFFFFFFFFFC90FDAA2")


@pytest.mark.parametrize("number", [1, 2, 5, 14])
def test_safe_prime(number: int) -> None:
    p = GROUPS[number].p
    assert _probably_prime(p, 4)
    assert _probably_prime((p - 1) // 2, 4)


@pytest.mark.parametrize("number", sorted(GROUPS))
def test_agreement_and_padding(number: int) -> None:
    g = group(number)
    a, pub_a = g.generate()
    b, pub_b = g.generate()
    assert len(pub_a) == len(pub_b) == g.length == g.bits // 8
    assert g.shared(a, pub_b) == g.shared(b, pub_a)
    assert len(g.shared(a, pub_b)) == g.length


def test_small_public_values_are_padded() -> None:
    g = group(2)
    assert g.public(2) == (4).to_bytes(128, "big")  # g^2 = 4, left-padded


@pytest.mark.parametrize("bad", [b"", b"\x01", (1).to_bytes(128, "big"), b"\xff" * 128])
def test_peer_public_validation(bad: bytes) -> None:
    g = group(2)
    priv, _ = g.generate()
    with pytest.raises(DhError, match="modp1024: peer public value"):
        g.shared(priv, bad)


def test_p_minus_one_rejected() -> None:
    g = group(1)
    with pytest.raises(DhError, match="out of range"):
        g.validate((g.p - 1).to_bytes(g.length, "big"))


def test_unknown_group() -> None:
    with pytest.raises(DhError, match="group 3 not supported"):
        group(3)
