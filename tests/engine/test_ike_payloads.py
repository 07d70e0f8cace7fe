"""ISAKMP codec (engine/ike/payloads.py) cross-checked with scapy's ISAKMP layers,
in both directions, plus strict-decoder checks (RFC 2408 §3)."""

from __future__ import annotations

import ipaddress
import os
import random

import pytest
from scapy.layers.isakmp import (
    ISAKMP,
    ISAKMP_payload_Delete,
    ISAKMP_payload_Hash,
    ISAKMP_payload_ID,
    ISAKMP_payload_KE,
    ISAKMP_payload_Nonce,
    ISAKMP_payload_Notify,
    ISAKMP_payload_Proposal,
    ISAKMP_payload_SA,
    ISAKMP_payload_Transform,
    ISAKMP_payload_VendorID,
)

from engine.ike.errors import MalformedMessage
from engine.ike.payloads import (
    Attribute,
    DeletePayload,
    HashPayload,
    Header,
    IdPayload,
    KePayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotificationPayload,
    Proposal,
    SaPayload,
    Transform,
    VendorIdPayload,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from engine.ike.registry import ExchangeType, IdType, NotifyType, PayloadType, ProtocolId, VendorIds

CKY_I, CKY_R = bytes.fromhex("0102030405060708"), bytes.fromhex("a1a2a3a4a5a6a7a8")


def _ike_transform(n: int, encr: int, hash_: int, group: int) -> Transform:
    # All TV attributes (scapy re-encodes TLVs in minimal length, we use 4 bytes).
    return Transform(
        n,
        1,
        [
            Attribute(1, encr),
            Attribute(14, 128),
            Attribute(2, hash_),
            Attribute(3, 1),
            Attribute(4, group),
            Attribute(11, 1),
            Attribute(12, 28800),
        ],
    )


def test_main_mode_msg1_bytes_equal_scapy():
    ours = encode_message(
        Header(CKY_I, bytes(8), 0, ExchangeType.IDENTITY_PROTECTION, 0, 0),
        [
            SaPayload(
                [
                    Proposal(
                        1,
                        ProtocolId.ISAKMP,
                        b"",
                        [_ike_transform(1, 7, 2, 14), _ike_transform(2, 7, 1, 2)],
                    )
                ]
            ),
            VendorIdPayload(VendorIds.DPD),
        ],
    )
    t1 = ISAKMP_payload_Transform(
        transform_count=1,
        transform_id=1,
        transforms=[(1, 7), (14, 128), (2, 2), (3, 1), (4, 14), (11, 1), (12, 28800)],
    )
    t2 = ISAKMP_payload_Transform(
        transform_count=2,
        transform_id=1,
        transforms=[(1, 7), (14, 128), (2, 1), (3, 1), (4, 2), (11, 1), (12, 28800)],
    )
    theirs = (
        ISAKMP(init_cookie=CKY_I, resp_cookie=bytes(8), exch_type=2)
        / ISAKMP_payload_SA(
            prop=ISAKMP_payload_Proposal(proposal=1, proto=1, trans_nb=2, trans=t1 / t2)
        )
        / ISAKMP_payload_VendorID(VendorID=VendorIds.DPD)
    )
    assert ours == bytes(theirs)


def test_scapy_dissects_our_messages():
    ke, nonce = os.urandom(256), os.urandom(20)
    data = encode_message(
        Header(CKY_I, CKY_R, 0, ExchangeType.IDENTITY_PROTECTION, 0, 0),
        [
            KePayload(ke),
            NoncePayload(nonce),
            IdPayload(IdType.IPV4_ADDR, bytes([10, 0, 0, 1]), 17, 500),
            HashPayload(b"h" * 20),
        ],
    )
    p = ISAKMP(data)
    assert (p.init_cookie, p.resp_cookie, p.length) == (CKY_I, CKY_R, len(data))
    assert p[ISAKMP_payload_KE].ke == ke
    assert p[ISAKMP_payload_Nonce].nonce == nonce
    idp = p[ISAKMP_payload_ID]
    assert (idp.IDtype, idp.ProtoID, idp.Port, idp.IdentData) == (1, 17, 500, "10.0.0.1")
    assert p[ISAKMP_payload_Hash].hash == b"h" * 20


def test_scapy_built_informational_decodes():
    n = ISAKMP_payload_Notify(
        doi=1, proto=3, SPI=b"\x11\x22\x33\x44", notify_msg_type=11, notify_data=b""
    )
    d = ISAKMP_payload_Delete(doi=1, proto=3, SPIs=[b"\xaa\xbb\xcc\xdd", b"\x01\x02\x03\x04"])
    pkt = ISAKMP(init_cookie=CKY_I, resp_cookie=CKY_R, exch_type=5, id=7) / n / d
    raw = bytes(pkt)
    hdr = Header.decode(raw)
    assert (hdr.exchange, hdr.message_id, hdr.next_payload) == (5, 7, PayloadType.NOTIFICATION)
    notify, delete = decode_payloads(hdr.next_payload, raw[28:])
    assert isinstance(notify, NotificationPayload) and isinstance(delete, DeletePayload)
    assert (notify.notify_type, notify.protocol, notify.spi) == (
        NotifyType.INVALID_SPI,
        ProtocolId.IPSEC_ESP,
        b"\x11\x22\x33\x44",
    )
    assert delete.spis == [b"\xaa\xbb\xcc\xdd", b"\x01\x02\x03\x04"] and delete.spi_size == 4
    # And back: our encoding of the same payloads is byte-identical.
    assert encode_payloads([notify, delete]) == raw[28:]


def test_scapy_built_sa_decodes_with_tlv():
    t = ISAKMP_payload_Transform(
        transform_count=1,
        transform_id=12,
        transforms=[(1, 1), (2, 0x00015180), (4, 1), (5, 2), (6, 256)],
    )  # life secs TLV, tunnel, sha, 256
    prop = ISAKMP_payload_Proposal(
        proposal=1, proto=3, SPI=b"\xde\xad\xbe\xef", trans_nb=1, trans=t
    )
    raw = bytes(ISAKMP_payload_SA(prop=prop))
    (sa,) = decode_payloads(PayloadType.SA, raw)
    (p,) = sa.proposals
    assert (p.protocol, p.spi, p.transforms[0].transform_id) == (3, b"\xde\xad\xbe\xef", 12)
    assert p.transforms[0].attrs == {1: 1, 2: 86400, 4: 1, 5: 2, 6: 256}


@pytest.mark.parametrize(
    "payload",
    [
        SaPayload(
            [
                Proposal(
                    1,
                    3,
                    b"\x00\x00\x10\x00",
                    [
                        Transform(
                            1,
                            12,
                            [
                                Attribute(1, 1),
                                Attribute(2, 3600, tlv=True),
                                Attribute(2, 123456789, tlv=True),
                            ],
                        )
                    ],
                ),
                Proposal(1, 2, b"\x00\x00\x20\x00", [Transform(1, 3, [Attribute(5, 2)])]),
            ]
        ),
        KePayload(b"\x01" * 128),
        NoncePayload(b"\x02" * 32),
        HashPayload(b"\x03" * 16),
        IdPayload.from_network(ipaddress.ip_network("192.168.1.0/24")),
        IdPayload.from_network(ipaddress.ip_network("2001:db8::/64"), 6, 80),
        IdPayload(IdType.FQDN, b"r1.example.com"),
        NotificationPayload(NotifyType.R_U_THERE, 1, CKY_I + CKY_R, b"\x00\x00\x00\x05"),
        DeletePayload(1, [CKY_I + CKY_R], 16),
        VendorIdPayload(VendorIds.NATT_RFC3947),
        NatDPayload(b"\x04" * 20),
        NatDPayload(b"\x05" * 16, draft=True),
        NatOaPayload(ipaddress.ip_address("10.1.2.3")),
    ],
)
def test_roundtrip(payload):
    raw = encode_payloads([payload])
    (back,) = decode_payloads(payload.ptype, raw)
    assert back == payload and back.raw == raw


def test_id_payload_subnet_and_range():
    idp = IdPayload.from_network(ipaddress.ip_network("10.1.0.0/16"))
    assert idp.id_type == IdType.IPV4_ADDR_SUBNET and idp.data == bytes(
        [10, 1, 0, 0, 255, 255, 0, 0]
    )
    host = IdPayload.from_network(ipaddress.ip_network("10.1.2.3/32"))
    assert host.id_type == IdType.IPV4_ADDR and host.describe() == "10.1.2.3"
    rng = IdPayload(IdType.IPV4_ADDR_RANGE, bytes([10, 0, 0, 0, 10, 0, 0, 255]))
    assert str(rng.network()) == "10.0.0.0/24"
    with pytest.raises(MalformedMessage):
        IdPayload(IdType.IPV4_ADDR_SUBNET, bytes([10, 0, 0, 0, 255, 0, 255, 0])).network()


def test_natt_vendor_ids_are_md5_of_their_names():
    # RFC 3947 §3.1: the vendor ID is MD5("RFC 3947").
    assert VendorIds.NATT_RFC3947.hex() == "4a131c81070358455c5728f20e95452f"
    assert VendorIds.NATT_DRAFT_02N.hex() == "90cb80913ebb696e086381b5ec427b1f"


def _valid_message() -> bytes:
    return encode_message(
        Header(CKY_I, CKY_R, 0, ExchangeType.QUICK_MODE, 0, 9),
        [
            HashPayload(b"x" * 20),
            SaPayload([Proposal(1, 3, b"abcd", [Transform(1, 12, [Attribute(6, 128)])])]),
            NoncePayload(os.urandom(16)),
            IdPayload.from_network(ipaddress.ip_network("10.0.0.0/8")),
            IdPayload.from_network(ipaddress.ip_network("10.9.9.9/32")),
        ],
    )


def test_truncation_raises_only_malformed():
    data = _valid_message()
    for n in range(len(data)):
        with pytest.raises(MalformedMessage):
            hdr = Header.decode(data[:n])
            decode_payloads(hdr.next_payload, data[28:n])


def test_mutation_fuzz_never_raises_other_errors():
    rnd = random.Random(4)
    data = bytearray(_valid_message())
    for _ in range(3000):
        m = bytearray(data)
        for _ in range(rnd.randint(1, 6)):
            m[rnd.randrange(28, len(m))] = rnd.randrange(256)
        try:
            decode_payloads(m[16], bytes(m[28:]))
        except MalformedMessage:
            pass


def test_errors_name_the_payload():
    bad = encode_payloads([DeletePayload(3, [b"abcd"])])[:-1]
    with pytest.raises(MalformedMessage, match="payload 12"):
        decode_payloads(PayloadType.DELETE, bad + b"\x00" * 0)
    with pytest.raises(MalformedMessage, match="length field"):
        Header.decode(_valid_message() + b"\x00")
