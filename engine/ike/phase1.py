"""Phase 1 exchanges with pre-shared keys: Main Mode (RFC 2409 §5, six
messages, identity protection) and Aggressive Mode (RFC 2409 §5, three
messages), with the NAT-T additions of RFC 3947 §3-§4.

Each ``build_*``/``handle_*`` function advances one ``IsakmpSa`` and returns
the datagram to send next (or None); the engine does the I/O.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from engine.crypto import dh

from . import keys, natt
from .errors import AuthenticationFailed, IkeError, MalformedMessage, NoProposalChosen
from .payloads import (
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    NotificationPayload,
    Payload,
    SaPayload,
    VendorIdPayload,
    find,
    first,
)
from .registry import ExchangeType, IdType, NotifyType, ProtocolId, VendorIds
from .sa import IsakmpSa, sa_payload_for, select_proposal, transform_to_proposal

NONCE_LEN = 20  # IOS uses 20-byte nonces (RFC 2409 §5 allows 8..256)
MM = ExchangeType.IDENTITY_PROTECTION
AM = ExchangeType.AGGRESSIVE


def _need(payloads: list[Payload], kind: type, what: str) -> Payload:
    p = first(payloads, kind)
    if p is None:
        raise MalformedMessage(f"{what} payload missing")
    return p


def _vendor_ids(sa: IsakmpSa, nat_t: bool) -> list[Payload]:
    """Initiator: all we support; responder: DPD plus the one NAT-T flavour chosen."""
    if sa.initiator:
        return list(natt.our_vendor_ids(nat_t))
    out: list[Payload] = [VendorIdPayload(VendorIds.DPD)]
    if nat_t and sa.natt == "rfc":
        out.append(VendorIdPayload(VendorIds.NATT_RFC3947))
    elif nat_t and sa.natt == "draft":
        for v in VendorIds.NATT_DRAFTS:
            if v in sa.peer_vids:
                out.append(VendorIdPayload(v))
                break
    return out


def _note_vendor_ids(sa: IsakmpSa, payloads: list[Payload], nat_t: bool) -> None:
    vids = [p.data for p in find(payloads, VendorIdPayload)]
    sa.peer_vids += vids
    if nat_t:
        sa.natt = natt.natt_variant(vids)
    sa.dpd_supported = sa.dpd_supported or VendorIds.DPD in vids


def _id_payload(sa: IsakmpSa) -> IdPayload:
    """Phase 1 ID (RFC 2407 §4.6.2): ``sa.local_identity`` when set (``crypto isakmp
    identity hostname``, aggressive-mode client-endpoint), else the local address;
    protocol UDP, port 500, as IOS sends it."""
    if sa.local_identity is not None:
        id_type, data = sa.local_identity
        return IdPayload(id_type, data, 17, 500)
    ip = ipaddress.ip_address(sa.local[0])
    t = IdType.IPV6_ADDR if ip.version == 6 else IdType.IPV4_ADDR
    return IdPayload(t, ip.packed, 17, 500)


def identity_for(text: str) -> tuple[int, bytes]:
    """An identity string as (ID type, data): address, user@fqdn or fqdn."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        kind = IdType.USER_FQDN if "@" in text else IdType.FQDN
        return kind, text.encode()
    return (IdType.IPV6_ADDR if ip.version == 6 else IdType.IPV4_ADDR), ip.packed


def _dh_setup(sa: IsakmpSa) -> bytes:
    assert sa.proposal is not None
    sa.group = dh.group(sa.proposal.group)
    sa.dh_private, pub = sa.group.generate()
    return pub


def _natd(sa: IsakmpSa) -> list[Payload]:
    if sa.natt is None:
        return []
    return list(
        natt.natd_payloads(
            sa.prf.hash, sa.icookie, sa.rcookie, sa.local, sa.peer, draft=sa.natt == "draft"
        )
    )


def _check_natd(sa: IsakmpSa, payloads: list[Payload]) -> None:
    if sa.natt is None:
        return
    received = find(payloads, NatDPayload)
    size = sa.prf.digest_len
    for p in received:
        if len(p.data) != size:  # RFC 3947 §3.2: HASH of the negotiated hash algorithm
            raise MalformedMessage(f"NAT-D payload of {len(p.data)} bytes, expected {size}")
    sa.nat_local, sa.nat_peer = natt.detect_nat(
        sa.prf.hash, sa.icookie, sa.rcookie, sa.local, sa.peer, received
    )


def _hash_i(sa: IsakmpSa) -> bytes:
    assert sa.k is not None
    return keys.hash_i(
        sa.prf, sa.k.skeyid, sa.gxi, sa.gxr, sa.icookie, sa.rcookie, sa.sai_b, sa.id_i_b
    )


def _hash_r(sa: IsakmpSa) -> bytes:
    assert sa.k is not None
    return keys.hash_r(
        sa.prf, sa.k.skeyid, sa.gxi, sa.gxr, sa.icookie, sa.rcookie, sa.sai_b, sa.id_r_b
    )


def _verify(expected: bytes, got: Payload, who: str) -> None:
    if not hmac.compare_digest(expected, got.data):
        raise AuthenticationFailed(f"{who} does not verify (pre-shared key mismatch?)")


def _peer_id(sa: IsakmpSa, idp: IdPayload) -> None:
    try:
        sa.peer_id = idp.describe()
    except MalformedMessage:
        sa.peer_id = idp.data.hex()


def _initial_contact(sa: IsakmpSa) -> list[Payload]:
    """RFC 2407 §4.6.3.3 INITIAL-CONTACT, sent in the last authenticated message."""
    if not sa.initial_contact_sent:
        return []
    return [
        NotificationPayload(NotifyType.INITIAL_CONTACT, ProtocolId.ISAKMP, sa.icookie + sa.rcookie)
    ]


# ----------------------------------------------------------------------- Main Mode


def build_mm1(sa: IsakmpSa, nat_t: bool) -> bytes:
    """HDR, SA, VID* (RFC 2409 §5; VIDs per RFC 3706 §5, RFC 3947 §3.1)."""
    sap = sa_payload_for([p for p in sa.ours if p.auth == "pre-share"])
    sa.sai_b = sap.encode_body()
    sa.state = "mm_sent1"
    return sa.plain_message(MM, [sap, *_vendor_ids(sa, nat_t)])


def handle_mm1(sa: IsakmpSa, payloads: list[Payload], nat_t: bool) -> bytes:
    """Responder: choose a policy (IOS priority order) and answer HDR, SA, VID*."""
    sap = _need(payloads, SaPayload, "SA")
    sa.sai_b = sap.raw[4:]
    _note_vendor_ids(sa, payloads, nat_t)
    _ours, sa.proposal, t = select_proposal(sa.ours, sap)
    sa.offered_lifetime = transform_to_proposal(t).lifetime
    prop = next(p for p in sap.proposals if t in p.transforms)
    reply = SaPayload(
        [type(prop)(prop.number, prop.protocol, prop.spi, [t])], sap.doi, sap.situation
    )
    sa.state = "mm_sent2"
    return sa.plain_message(MM, [reply, *_vendor_ids(sa, nat_t)])


def _accept_chosen(sa: IsakmpSa, payloads: list[Payload]) -> None:
    """Initiator: the responder must pick exactly one of our transforms."""
    sap = _need(payloads, SaPayload, "SA")
    try:
        _ours, sa.proposal, _t = select_proposal([p for p in sa.ours if p.auth == "pre-share"], sap)
    except NoProposalChosen:
        raise IkeError(
            "responder chose a transform we did not offer", NotifyType.NO_PROPOSAL_CHOSEN
        ) from None
    # Our own policy's lifetime applies unless the responder chose a shorter one.


def handle_mm2(sa: IsakmpSa, payloads: list[Payload], nat_t: bool) -> bytes:
    """Initiator: HDR, KE, Ni, NAT-D, NAT-D."""
    _accept_chosen(sa, payloads)
    _note_vendor_ids(sa, payloads, nat_t)
    sa.gxi = _dh_setup(sa)
    sa.ni = os.urandom(NONCE_LEN)
    sa.state = "mm_sent3"
    return sa.plain_message(MM, [KePayload(sa.gxi), NoncePayload(sa.ni), *_natd(sa)])


def handle_mm3(sa: IsakmpSa, payloads: list[Payload]) -> bytes:
    """Responder: HDR, KE, Nr, NAT-D, NAT-D; derive SKEYID*."""
    sa.gxi = _need(payloads, KePayload, "KE").data
    sa.ni = _need(payloads, NoncePayload, "Nonce").data
    _check_natd(sa, payloads)
    sa.gxr = _dh_setup(sa)
    sa.nr = os.urandom(NONCE_LEN)
    sa.derive_keys()
    sa.state = "mm_sent4"
    return sa.plain_message(MM, [KePayload(sa.gxr), NoncePayload(sa.nr), *_natd(sa)])


def handle_mm4(sa: IsakmpSa, payloads: list[Payload]) -> None:
    """Initiator: take KE/Nr, derive keys, detect NAT (the engine floats, then calls build_mm5)."""
    sa.gxr = _need(payloads, KePayload, "KE").data
    sa.nr = _need(payloads, NoncePayload, "Nonce").data
    _check_natd(sa, payloads)
    sa.derive_keys()


def build_mm5(sa: IsakmpSa) -> bytes:
    """Initiator: HDR*, IDii, HASH_I [, N(INITIAL-CONTACT)]."""
    idp = _id_payload(sa)
    sa.id_i_b = idp.body
    out, sa.iv = sa.encrypt_message(
        MM, 0, [idp, HashPayload(_hash_i(sa)), *_initial_contact(sa)], sa.iv
    )
    sa.state = "mm_sent5"
    return out


def handle_mm5(sa: IsakmpSa, payloads: list[Payload]) -> bytes:
    """Responder: verify HASH_I, answer HDR*, IDir, HASH_R."""
    idp = _need(payloads, IdPayload, "ID")
    sa.id_i_b = idp.raw[4:]
    _verify(_hash_i(sa), _need(payloads, HashPayload, "HASH"), "HASH_I")
    _peer_id(sa, idp)
    mine = _id_payload(sa)
    sa.id_r_b = mine.body
    out, sa.iv = sa.encrypt_message(MM, 0, [mine, HashPayload(_hash_r(sa))], sa.iv)
    sa.state = "established"
    return out


def handle_mm6(sa: IsakmpSa, payloads: list[Payload]) -> None:
    """Initiator: verify HASH_R; Phase 1 done."""
    idp = _need(payloads, IdPayload, "ID")
    sa.id_r_b = idp.raw[4:]
    _verify(_hash_r(sa), _need(payloads, HashPayload, "HASH"), "HASH_R")
    _peer_id(sa, idp)
    sa.state = "established"


# ------------------------------------------------------------------ Aggressive Mode


def build_am1(sa: IsakmpSa, nat_t: bool) -> bytes:
    """Initiator: HDR, SA, KE, Ni, IDii, VID* (one policy's group: AM cannot
    negotiate the DH group, so we offer only policies with the first one's group)."""
    psk = [p for p in sa.ours if p.auth == "pre-share"]
    if not psk:
        raise NoProposalChosen("no pre-share ISAKMP policy to offer")
    offered = [p for p in psk if p.group == psk[0].group]
    sap = sa_payload_for(offered)
    sa.sai_b = sap.encode_body()
    sa.group = dh.group(offered[0].group)
    sa.dh_private, sa.gxi = sa.group.generate()
    sa.ni = os.urandom(NONCE_LEN)
    idp = _id_payload(sa)
    sa.id_i_b = idp.body
    sa.state = "am_sent1"
    return sa.plain_message(
        AM, [sap, KePayload(sa.gxi), NoncePayload(sa.ni), idp, *_vendor_ids(sa, nat_t)]
    )


def handle_am1(sa: IsakmpSa, payloads: list[Payload], nat_t: bool) -> bytes:
    """Responder: HDR, SA, KE, Nr, IDir, HASH_R, VID*, NAT-D*."""
    sap = _need(payloads, SaPayload, "SA")
    sa.sai_b = sap.raw[4:]
    _note_vendor_ids(sa, payloads, nat_t)
    _ours, sa.proposal, t = select_proposal(sa.ours, sap)
    sa.offered_lifetime = transform_to_proposal(t).lifetime
    sa.gxi = _need(payloads, KePayload, "KE").data
    sa.ni = _need(payloads, NoncePayload, "Nonce").data
    idp = _need(payloads, IdPayload, "ID")
    sa.id_i_b = idp.raw[4:]
    _peer_id(sa, idp)
    prop = next(p for p in sap.proposals if t in p.transforms)
    reply = SaPayload(
        [type(prop)(prop.number, prop.protocol, prop.spi, [t])], sap.doi, sap.situation
    )
    sa.gxr = _dh_setup(sa)
    sa.nr = os.urandom(NONCE_LEN)
    sa.derive_keys()
    mine = _id_payload(sa)
    sa.id_r_b = mine.body
    sa.state = "am_sent2"
    return sa.plain_message(
        AM,
        [
            reply,
            KePayload(sa.gxr),
            NoncePayload(sa.nr),
            mine,
            HashPayload(_hash_r(sa)),
            *_vendor_ids(sa, nat_t),
            *_natd(sa),
        ],
    )


def handle_am2(sa: IsakmpSa, payloads: list[Payload], nat_t: bool) -> None:
    """Initiator: verify HASH_R (the engine floats if needed, then build_am3)."""
    _accept_chosen(sa, payloads)
    _note_vendor_ids(sa, payloads, nat_t)
    sa.gxr = _need(payloads, KePayload, "KE").data
    sa.nr = _need(payloads, NoncePayload, "Nonce").data
    idp = _need(payloads, IdPayload, "ID")
    sa.id_r_b = idp.raw[4:]
    sa.derive_keys()
    _verify(_hash_r(sa), _need(payloads, HashPayload, "HASH"), "HASH_R")
    _peer_id(sa, idp)
    _check_natd(sa, payloads)


def build_am3(sa: IsakmpSa) -> bytes:
    """Initiator: HDR, HASH_I, NAT-D* — sent in the clear as strongSwan does
    (RFC 2409 §5.4 shows no encryption)."""
    sa.state = "established"
    return sa.plain_message(AM, [HashPayload(_hash_i(sa)), *_natd(sa)])


def handle_am3(sa: IsakmpSa, hdr_encrypted: bool, payloads: list[Payload]) -> None:
    """Responder: verify HASH_I (message 3 may arrive encrypted, as IOS sends it)."""
    _verify(_hash_i(sa), _need(payloads, HashPayload, "HASH"), "HASH_I")
    _check_natd(sa, payloads)
    sa.state = "established"
