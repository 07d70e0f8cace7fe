"""MODP Diffie-Hellman groups for IKEv1 (RFC 2409 §6, RFC 3526), generator 2.

``DhGroup.generate()`` returns ``(private, public_bytes)``; ``shared(private, peer)``
returns the shared secret g^xy mod p, both left-padded with zeros to the prime's
length (RFC 2409 §5: KE payload and g^xy are the full modulus length).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass


class DhError(ValueError):
    """Invalid Diffie-Hellman input (bad peer public value, unknown group)."""


# Group 1: 768-bit MODP, RFC 2409 §6.1 (First Oakley Group)
# p = 2^768 - 2^704 - 1 + 2^64 * (floor(2^638 pi) + k)
_P768 = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A63A3620 FFFFFFFF FFFFFFFF
"""

# Group 2: 1024-bit MODP, RFC 2409 §6.2 (Second Oakley Group)
# p = 2^1024 - 2^960 - 1 + 2^64 * (floor(2^894 pi) + k)
_P1024 = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381 FFFFFFFF FFFFFFFF
"""

# Group 5: 1536-bit MODP, RFC 3526 §2
# p = 2^1536 - 2^1472 - 1 + 2^64 * (floor(2^1406 pi) + k)
_P1536 = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF
"""

# Group 14: 2048-bit MODP, RFC 3526 §3
# p = 2^2048 - 2^1984 - 1 + 2^64 * (floor(2^1918 pi) + k)
_P2048 = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AACAA68 FFFFFFFF FFFFFFFF
"""

# Group 15: 3072-bit MODP, RFC 3526 §4
# p = 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 pi) + k)
_P3072 = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33
    A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864
    D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2
    08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF
"""

# Group 16: 4096-bit MODP, RFC 3526 §5
# p = 2^4096 - 2^4032 - 1 + 2^64 * (floor(2^3966 pi) + k)
_P4096 = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33
    A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864
    D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2
    08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8
    DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2
    233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199 FFFFFFFF FFFFFFFF
"""


def _hex(text: str) -> int:
    return int("".join(text.split()), 16)


@dataclass(frozen=True)
class DhGroup:
    """One MODP group.

    Attributes:
        number: IKE group number (Group Description attribute, RFC 2409 App. A).
        bits: modulus size in bits.
        p: the prime.
        g: the generator (2 for every MODP group).
    """

    number: int
    bits: int
    p: int
    g: int = 2

    @property
    def length(self) -> int:
        """Public value / shared secret length in bytes."""
        return (self.bits + 7) // 8

    @property
    def name(self) -> str:
        return f"modp{self.bits}"

    def private_bits(self) -> int:
        # At least twice the symmetric strength; 2048-bit groups get 256-bit+ exponents.
        return max(256, min(self.bits - 1, 2 * (self.bits // 8)))

    def generate(self) -> tuple[int, bytes]:
        """Return a fresh private exponent and the padded public value g^x mod p."""
        while True:
            x = secrets.randbits(self.private_bits())
            if x > 1:
                break
        return x, self.public(x)

    def public(self, private: int) -> bytes:
        """Padded public value for a given private exponent (deterministic tests)."""
        if not 1 < private < self.p - 1:
            raise DhError(f"{self.name}: private exponent out of range")
        return pow(self.g, private, self.p).to_bytes(self.length, "big")

    def validate(self, peer_public: bytes) -> int:
        """Check a peer's public value (1 < y < p-1, at most the modulus length).

        Raises:
            DhError: wrong length or value out of range.
        """
        if not peer_public or len(peer_public) > self.length:
            raise DhError(
                f"{self.name}: peer public value is {len(peer_public)} bytes, "
                f"expected {self.length}"
            )
        y = int.from_bytes(peer_public, "big")
        if not 1 < y < self.p - 1:
            raise DhError(f"{self.name}: peer public value out of range (must be 1 < y < p-1)")
        return y

    def shared(self, private: int, peer_public: bytes) -> bytes:
        """Shared secret g^xy mod p, left-padded to the modulus length."""
        y = self.validate(peer_public)
        z = pow(y, private, self.p)
        if z in (0, 1, self.p - 1):
            raise DhError(f"{self.name}: degenerate shared secret")
        return z.to_bytes(self.length, "big")


GROUPS: dict[int, DhGroup] = {
    g.number: g
    for g in (
        DhGroup(1, 768, _hex(_P768)),
        DhGroup(2, 1024, _hex(_P1024)),
        DhGroup(5, 1536, _hex(_P1536)),
        DhGroup(14, 2048, _hex(_P2048)),
        DhGroup(15, 3072, _hex(_P3072)),
        DhGroup(16, 4096, _hex(_P4096)),
    )
}


def group(number: int) -> DhGroup:
    """Look up a group by IKE number.

    Raises:
        DhError: unsupported group number.
    """
    try:
        return GROUPS[number]
    except KeyError:
        raise DhError(
            f"Diffie-Hellman group {number} not supported; supported: {sorted(GROUPS)}"
        ) from None
