"""RADIUS accounting codec (RFC 2866 §3) and ``debug radius`` rendering (seed 001 L1744-1818)."""

from __future__ import annotations

import random

import pytest

from engine.mgmt import radius as r

#: An Accounting-Request captured from FreeRADIUS 3.2.1 ``radclient ... acct nsite`` with
#: Acct-Session-Id "00000001", two Cisco-AVPairs, Acct-Status-Type Start, Cisco-NAS-Port,
#: NAS-Port 0, NAS-IP-Address 10.1.1.147, Acct-Delay-Time 0 (identifier 0x37, secret "nsite").
RADCLIENT_START = bytes.fromhex(
    "04370086a878e78d441c368e06525f91fadb7df62c0a30303030303030311a1400000009010e7672662d69"
    "643d636973636f1a2300000009011d6973616b6d702d696e697461746f722d69703d31302e312e312e3228"
    "06000000011a190000000902134661737445746865726e6574302f302e3105060000000004060a01019329"
    "0600000000"
)


def _attrs() -> list[r.Attribute]:
    return [
        r.Attribute.string(r.ACCT_SESSION_ID, "00000001"),
        r.Attribute.avpair("vrf-id", "cisco"),
        r.Attribute.avpair("isakmp-initator-ip", "10.1.1.2"),
        r.Attribute.integer(r.ACCT_STATUS_TYPE, r.STATUS_START),
        r.Attribute.cisco(r.CISCO_NAS_PORT, "FastEthernet0/0.1"),
        r.Attribute.integer(r.NAS_PORT, 0),
        r.Attribute.address(r.NAS_IP_ADDRESS, "10.1.1.147"),
        r.Attribute.integer(r.ACCT_DELAY_TIME, 0),
    ]


def test_request_authenticator_known_answer() -> None:
    """RFC 2866 §3: our encoding and authenticator equal radclient's, octet for octet."""
    assert r.accounting_request(0x37, _attrs(), b"nsite") == RADCLIENT_START
    assert r.verify_accounting_request(RADCLIENT_START, b"nsite")
    assert not r.verify_accounting_request(RADCLIENT_START, b"other")


def test_decode_round_trip() -> None:
    p = r.decode(RADCLIENT_START)
    assert (p.code, p.identifier, len(p.raw)) == (r.ACCOUNTING_REQUEST, 0x37, 134)
    assert p.attributes == _attrs()
    assert p.avpairs() == {"vrf-id": "cisco", "isakmp-initator-ip": "10.1.1.2"}
    assert p.get(r.ACCT_STATUS_TYPE).as_int() == 1


def test_response_authenticator() -> None:
    """RFC 2866 §3: Response Authenticator over the request's authenticator."""
    req_auth = RADCLIENT_START[4:20]
    resp = r.accounting_response(0x37, req_auth, [], b"nsite")
    assert len(resp) == 20  # seed 001 L1767: "Accounting-response, len 20"
    assert r.verify_response(resp, req_auth, b"nsite")
    assert not r.verify_response(resp, bytes(16), b"nsite")
    assert not r.verify_response(resp, req_auth, b"wrong")


def test_debug_lines_match_seed_lengths() -> None:
    """seed 001 L1744-1769: attribute/VSA lengths as IOS prints them."""
    lines = r.debug_lines(RADCLIENT_START, ("10.1.1.4", 1646), 2)
    text = "\n".join(lines)
    assert lines[0] == "RADIUS(00000002): sending"
    assert "Send Accounting-Request to 10.1.1.4:1646 id 55, len 134" in lines[1]
    assert 'Acct-Session-Id     [44] 10  "00000001"' in text  # L1749
    assert "Vendor, Cisco       [26] 20" in text  # L1753 (vrf-id=cisco)
    assert 'Cisco AVpair        [1] 14  "vrf-id=cisco"' in text  # L1754
    assert "Vendor, Cisco       [26] 35" in text  # L1755 (isakmp-initator-ip=10.1.1.2)
    assert 'cisco-nas-port      [2] 19  "FastEthernet0/0.1"' in text  # L1762
    assert "Acct-Status-Type    [40] 6   Start [1]" in text  # L1760
    assert "NAS-IP-Address      [4] 6   10.1.1.147" in text  # L1764


def test_seed_start_record_length() -> None:
    """seed 001 L1745: the sample Start record (attributes as printed) is 220 octets."""
    attrs = [
        r.Attribute.string(r.ACCT_SESSION_ID, "00000001"),
        r.Attribute.avpair("isakmp-group-id", "cclient"),
        r.Attribute.address(r.FRAMED_IP_ADDRESS, "10.13.13.1"),
        r.Attribute.avpair("vrf-id", "cisco"),
        r.Attribute.avpair("isakmp-initator-ip", "10.1.2.2"),
        r.Attribute.avpair("connect-progress", "No Progress"),
        r.Attribute.string(r.USER_NAME, "username1xx"),  # L1759: length 13 → 11 characters
        r.Attribute.integer(r.ACCT_STATUS_TYPE, r.STATUS_START),
        r.Attribute.cisco(r.CISCO_NAS_PORT, "FastEthernet0/0.1"),
        r.Attribute.integer(r.NAS_PORT, 0),
        r.Attribute.address(r.NAS_IP_ADDRESS, "10.1.1.147"),
        r.Attribute.integer(r.ACCT_DELAY_TIME, 0),
    ]
    assert len(r.accounting_request(4, attrs, b"k")) == 220


@pytest.mark.parametrize("data, where", [
    (b"\x04\x01\x00", "shorter than the 20-octet header"),
    (b"\x04\x01\x00\x30" + bytes(16), "Length field 48"),
    (b"\x04\x01\x00\x17" + bytes(16) + b"\x01\x05\x41", "bad length 5"),
    (b"\x04\x01\x00\x1d" + bytes(16) + b"\x1a\x09\x00\x00\x00\x09\x01\x09\x41", "sub-length 9"),
])
def test_malformed_packets_are_named(data: bytes, where: str) -> None:
    with pytest.raises(r.RadiusError, match=where):
        r.decode(data)


def test_decode_fuzz_never_raises_other_errors() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        pkt = bytearray(RADCLIENT_START)
        for _ in range(rnd.randint(1, 6)):
            pkt[rnd.randrange(len(pkt))] = rnd.randrange(256)
        try:
            r.decode(bytes(pkt[: rnd.randint(0, len(pkt))]))
        except r.RadiusError:
            pass
