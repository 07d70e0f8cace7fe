"""NAT traversal basics for IKEv1 (RFC 3947, and the drafts IOS still speaks).

Vendor IDs announce support (§3.1), NAT-D payloads detect NATs (§3.2), and
once a NAT is seen IKE floats to UDP 4500 (§4) and ESP is UDP-encapsulated
with the encapsulation modes of §5.1.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Sequence

from .payloads import NatDPayload, VendorIdPayload
from .registry import EncapsulationMode, VendorIds

#: Vendor IDs we send, IOS order: RFC 3947 first, then the drafts.
NATT_VENDOR_IDS = (
    VendorIds.NATT_RFC3947,
    VendorIds.NATT_DRAFT_03,
    VendorIds.NATT_DRAFT_02N,
    VendorIds.NATT_DRAFT_02,
)


def natt_variant(vids: Sequence[bytes]) -> str | None:
    """Which NAT-T flavour the peer supports: "rfc", "draft" or None (RFC 3947 §3.1)."""
    if VendorIds.NATT_RFC3947 in vids:
        return "rfc"
    if any(v in vids for v in VendorIds.NATT_DRAFTS):
        return "draft"
    return None


def natd_hash(hash_fn, icookie: bytes, rcookie: bytes, address: str, port: int) -> bytes:
    """RFC 3947 §3.2: HASH = HASH(CKY-I | CKY-R | IP | Port), with the negotiated hash."""
    ip = ipaddress.ip_address(address).packed
    return hash_fn(icookie + rcookie + ip + struct.pack("!H", port))


def natd_payloads(
    hash_fn,
    icookie: bytes,
    rcookie: bytes,
    local: tuple[str, int],
    remote: tuple[str, int],
    draft: bool = False,
) -> list[NatDPayload]:
    """RFC 3947 §3.2: the first NAT-D is the remote address, the second the local one."""
    return [
        NatDPayload(natd_hash(hash_fn, icookie, rcookie, *remote), draft),
        NatDPayload(natd_hash(hash_fn, icookie, rcookie, *local), draft),
    ]


def detect_nat(
    hash_fn,
    icookie: bytes,
    rcookie: bytes,
    local: tuple[str, int],
    remote: tuple[str, int],
    received: Sequence[NatDPayload],
) -> tuple[bool, bool]:
    """Compare the peer's NAT-D payloads with our view (RFC 3947 §3.2).

    Returns ``(local_behind_nat, peer_behind_nat)``: the first received hash
    is the peer's view of our address; the rest are the peer's own addresses.
    """
    if len(received) < 2:
        return False, False
    mine = natd_hash(hash_fn, icookie, rcookie, *local)
    theirs = natd_hash(hash_fn, icookie, rcookie, *remote)
    local_nat = received[0].data != mine
    peer_nat = all(p.data != theirs for p in received[1:])
    return local_nat, peer_nat


def encapsulation_mode(mode: str, udp: bool, variant: str | None) -> int:
    """Encapsulation Mode attribute value (RFC 2407 §4.5, RFC 3947 §5.1)."""
    if not udp:
        return EncapsulationMode.TUNNEL if mode == "tunnel" else EncapsulationMode.TRANSPORT
    if variant == "draft":
        return (
            EncapsulationMode.UDP_TUNNEL_DRAFT
            if mode == "tunnel"
            else EncapsulationMode.UDP_TRANSPORT_DRAFT
        )
    return EncapsulationMode.UDP_TUNNEL if mode == "tunnel" else EncapsulationMode.UDP_TRANSPORT


def decode_encapsulation(value: int) -> tuple[str, bool]:
    """Encapsulation Mode attribute -> (mode, udp_encapsulated)."""
    table = {
        EncapsulationMode.TUNNEL: ("tunnel", False),
        EncapsulationMode.TRANSPORT: ("transport", False),
        EncapsulationMode.UDP_TUNNEL: ("tunnel", True),
        EncapsulationMode.UDP_TRANSPORT: ("transport", True),
        EncapsulationMode.UDP_TUNNEL_DRAFT: ("tunnel", True),
        EncapsulationMode.UDP_TRANSPORT_DRAFT: ("transport", True),
    }
    if value not in table:
        raise ValueError(f"encapsulation mode {value} unknown")
    return table[value]


def our_vendor_ids(nat_t: bool, dpd: bool = True) -> list[VendorIdPayload]:
    out = [VendorIdPayload(VendorIds.DPD)] if dpd else []
    if nat_t:
        out += [VendorIdPayload(v) for v in NATT_VENDOR_IDS]
    return out
