"""Unit tests of the strongSwan node helpers that need no namespaces.

The charon logs in ``data/`` come from a real exchange between two nodes of
``topologies/interop-sw-sw.yaml`` (strongSwan 5.9.8, kernel-libipsec,
IKEv1 Main Mode, ESP AES-CBC-128/HMAC-SHA1-96), reduced to the Quick Mode,
key and "established" lines (``grep -E 'QUICK_MODE|key|established|: '``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.strongswan import StrongswanOptions, render_strongswan_conf
from lab.strongswan_keys import parse_ike_log, parse_log
from lab.strongswan_vici import Element, ViciError, decode_message, encode_message

DATA = Path(__file__).parent / "data"


def test_vici_encoding_known_bytes() -> None:
    # vici README "Message format": KEY_VALUE = type, name len, name, u16 len, value.
    assert encode_message({"a": "xy"}) == bytes([Element.KEY_VALUE, 1]) + b"a" + b"\x00\x02xy"
    assert encode_message({"s": {}}) == bytes([Element.SECTION_START, 1]) + b"s" + bytes(
        [Element.SECTION_END])
    assert encode_message({"l": ["1", "22"]}) == (
        bytes([Element.LIST_START, 1]) + b"l" + bytes([Element.LIST_ITEM]) + b"\x00\x011"
        + bytes([Element.LIST_ITEM]) + b"\x00\x0222" + bytes([Element.LIST_END]))


def test_vici_roundtrip_nested() -> None:
    msg = {"ike": "sw-sw", "child-sas": {"net-1": {"spi-in": "df7c428e",
                                                   "local-ts": ["192.168.1.0/24"]}},
           "empty": ""}
    assert decode_message(encode_message(msg)) == msg


@pytest.mark.parametrize("data", [
    bytes([Element.KEY_VALUE, 5]) + b"ab",                      # name runs past the end
    bytes([Element.KEY_VALUE, 1]) + b"a" + struct.pack("!H", 9) + b"x",   # value too short
    bytes([Element.SECTION_END]),                               # unbalanced
    bytes([Element.LIST_ITEM]) + b"\x00\x00",                  # item outside list
    bytes([99]),                                                # unknown element
])
def test_vici_malformed_raises(data: bytes) -> None:
    with pytest.raises(ViciError):
        decode_message(data)


def test_parse_log_initiator_and_responder_agree() -> None:
    (s1,) = parse_log((DATA / "charon-s1-keys.log").read_text())
    (s2,) = parse_log((DATA / "charon-s2-keys.log").read_text())
    # s1 initiated Quick Mode: its outbound SA uses the "initiator" keys
    # (KEYMAT with the responder's SPI, RFC 2409 §5.5).
    assert (s1.child, s1.spi_in, s1.spi_out) == ("net", 0xDF7C428E, 0xA370E7CE)
    assert s1.encr_out.hex() == "ee4a3d119358203d7afcba1bbd242ea8"
    assert s1.integ_out.hex() == "7c20f2bf9fb1db7c42b48981353b88bce95492fa"
    assert s1.encr_in.hex() == "d0f816b27ad8c2830ef6309add1fc027"
    # The responder's view is the mirror image.
    assert (s2.spi_in, s2.spi_out) == (s1.spi_out, s1.spi_in)
    assert (s2.encr_in, s2.integ_in) == (s1.encr_out, s1.integ_out)
    assert (s2.encr_out, s2.integ_out) == (s1.encr_in, s1.integ_in)


def test_parse_log_ignores_garbage() -> None:
    text = "garbage\n2026 01[CHD] <x|1> encryption initiator key => 16 bytes @ 0x1\n\x00\n"
    assert parse_log(text) == []


def test_conf_has_libipsec_before_netlink_and_vici_socket(tmp_path: Path) -> None:
    conf = render_strongswan_conf(tmp_path, StrongswanOptions(
        retransmit_tries=2, settings={"charon.keep_alive": 5}))
    load = next(line for line in conf.splitlines() if line.strip().startswith("load ="))
    plugins = load.split("=", 1)[1].split()
    assert plugins.index("kernel-libipsec") < plugins.index("kernel-netlink")
    assert {"vici", "openssl", "socket-default", "nonce", "random"} <= set(plugins)
    assert "socket = unix://charon.vici" in conf   # relative: the node dir is the cwd
    assert "retransmit_tries = 2" in conf
    assert "keep_alive = 5" in conf
    assert "i_dont_care_about_security_and_use_aggressive_mode_psk = yes" in conf
    assert "chd = 4" in conf


def test_options_reject_unknown_key() -> None:
    with pytest.raises(LabError, match="node s9: unknown strongswan option.*bogus"):
        StrongswanOptions.from_node({"bogus": 1}, "s9")


def test_parse_ike_log_named_and_unnamed_prefix() -> None:
    # The Main Mode responder logs its keys before it knows the connection
    # name ("<1>"), the initiator with it ("<sw-sw|1>"); both derive one Ka.
    s1 = parse_ike_log((DATA / "charon-s1-ike-ka.log").read_text())
    s2 = parse_ike_log((DATA / "charon-s2-ike-ka.log").read_text())
    assert s1 == s2 == {1: bytes.fromhex("6b6e63b0d1a25d13f3d86286499692e4")}


def test_parse_log_restart_forgets_pending_state() -> None:
    # Keys of an exchange cut short by a restart must not pair with the
    # "established" line of a new IKE_SA that reuses unique id 1.
    s1 = (DATA / "charon-s1-keys.log").read_text().splitlines()
    cut = next(i for i, line in enumerate(s1) if "established with SPIs" in line)
    restart = "2026-11-25T03:31:00.000 00[DMN] Starting IKE charon daemon (strongSwan 5.9.8)"
    assert parse_log("\n".join(s1[:cut] + [restart] + s1[cut:])) == []
    assert len(parse_log("\n".join(s1))) == 1
