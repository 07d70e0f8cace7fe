"""Informational exchange (RFC 2409 §5.7, RFC 2408 §4.8): DELETE, notifies,
and Dead Peer Detection R-U-THERE/R-U-THERE-ACK (RFC 3706 §5).

    HDR*, HASH(1), N/D       with HASH(1) = prf(SKEYID_a, M-ID | N/D)
"""

from __future__ import annotations

import hmac
import os
import struct

from . import keys
from .errors import AuthenticationFailed, MalformedMessage
from .payloads import (
    HashPayload,
    Header,
    NotificationPayload,
    Payload,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from .registry import ExchangeType, NotifyType, ProtocolId
from .sa import IsakmpSa

INFO = ExchangeType.INFORMATIONAL


def build_protected(sa: IsakmpSa, body: list[Payload]) -> bytes:
    """Encrypted Informational with HASH(1) under a fresh message ID and IV."""
    assert sa.k is not None
    msgid = sa.new_message_id()
    h = keys.qm_hash1(sa.prf, sa.k.skeyid_a, msgid, encode_payloads(body))
    data, _iv = sa.encrypt_message(INFO, msgid, [HashPayload(h), *body], sa.phase2_iv(msgid))
    return data


def build_plain_notify(
    icookie: bytes,
    rcookie: bytes,
    notify_type: int,
    protocol: int = ProtocolId.ISAKMP,
    spi: bytes | None = None,
) -> bytes:
    """Unprotected Informational (before SKEYID exists, RFC 2408 §4.8)."""
    n = NotificationPayload(notify_type, protocol, icookie + rcookie if spi is None else spi)
    hdr = Header(icookie, rcookie, 0, INFO, 0, int.from_bytes(os.urandom(4), "big") or 1)
    return encode_message(hdr, [n])


def parse_protected(sa: IsakmpSa, hdr: Header, data: bytes) -> list[Payload]:
    """Decrypt (IV from the last Phase 1 block and the M-ID) and verify HASH(1).

    Raises:
        MalformedMessage / AuthenticationFailed.
    """
    payloads, _last = sa.decrypt_message(hdr, data, sa.phase2_iv(hdr.message_id))
    if not payloads or not isinstance(payloads[0], HashPayload):
        raise MalformedMessage("Informational message without HASH")
    assert sa.k is not None
    rest = b"".join(p.raw for p in payloads[1:])
    if not hmac.compare_digest(
        keys.qm_hash1(sa.prf, sa.k.skeyid_a, hdr.message_id, rest), payloads[0].data
    ):
        raise AuthenticationFailed("Informational HASH(1) does not verify")
    return payloads[1:]


def parse_plain(hdr: Header, data: bytes) -> list[Payload]:
    return decode_payloads(hdr.next_payload, data[28:])


def dpd_notify(sa: IsakmpSa, ack: bool, seq: int) -> NotificationPayload:
    """RFC 3706 §5: protocol ISAKMP, SPI = CKY-I | CKY-R, data = 32-bit sequence number."""
    return NotificationPayload(
        NotifyType.R_U_THERE_ACK if ack else NotifyType.R_U_THERE,
        ProtocolId.ISAKMP,
        sa.icookie + sa.rcookie,
        struct.pack("!I", seq),
    )


def dpd_seq(n: NotificationPayload) -> int | None:
    if len(n.data) != 4:
        return None
    return struct.unpack("!I", n.data)[0]


__all__ = [
    "build_protected",
    "build_plain_notify",
    "parse_protected",
    "parse_plain",
    "dpd_notify",
    "dpd_seq",
    "AuthenticationFailed",
]
